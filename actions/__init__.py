"""Custom actions and form validation for the Rasa action server. Kept thin: logic lives in bot/."""
