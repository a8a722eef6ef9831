import logging

from bot.logs import RedactingFilter, redact


def test_numbers_and_emails_are_masked():
    assert "07700" not in redact("call me on 07700 900123 please")
    assert "900123" not in redact("+44 7700 900123")
    assert "@" not in redact("write to sam.example@example.org")
    assert redact("HTTP 500 in 12ms") == "HTTP 500 in 12ms"


def test_filter_rewrites_records(caplog):
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("number %s", "0113 496 0123")
    assert "496" not in caplog.text and "[number]" in caplog.text
