"""Booking references made of three plain, neutral words (easy to say on the phone, nothing alarming)."""
from __future__ import annotations

import secrets

# Short, common, neutral words: no violence, no body parts, no words that could upset or mislead.
WORDS = tuple("""
acorn anchor apple april arch arrow aspen autumn badge bakery banjo barley basil basket beach beacon
bench berry birch biscuit blossom boat bonnet branch brick bridge brook bucket bunny button cabin
cactus camel candle canoe canvas carpet carrot castle cedar cello chalk cherry chess chime cider
cinema circle clover cobble comet copper coral cotton cousin crayon cricket crystal cushion daisy
dolphin donkey dove dune eagle easel echo elbow elm ember emerald falcon feather fern fiddle finch
flute forest fossil fountain fox garden garnet ginger glove gravel harbour harp hazel heather hedge
heron hill honey island ivory ivy jacket jasmine jelly jigsaw jumper kettle kite kiwi ladder lagoon
lantern larch lemon lilac linen lobster locket lotus maple marble meadow melon mint mitten moon moss
mountain muffin nectar nutmeg oak oasis ocean olive onion orange orchard otter owl paddle panda
pansy paper parrot pasta peach pebble pelican penguin pepper piano pillow pine planet plum pocket
pony poppy puffin pumpkin quartz quill rabbit radish rainbow raven ribbon river robin rocket rose
saddle saffron salmon sandal satin scarf seashell shadow shell silver sketch sky sparrow spinach
spruce squirrel star stone sugar summer sunset swan teapot thistle thyme tiger timber toffee tomato
topaz trumpet tulip turnip umbrella valley velvet violet walnut wave willow window winter wren yacht
yarrow yellow zebra
""".split())


def new_reference() -> str:
    """Three random words joined by spaces, e.g. "maple otter lantern" (215^3, about ten million
    combinations; uniqueness is enforced by the database)."""
    return " ".join(secrets.choice(WORDS) for _ in range(3))
