"""Tests for the deterministic emergency layer: our spaCy pipeline, the danger detector and the
Rasa component. The phrasings here are the developers' own (never the blind held-out set in eval/).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest
import spacy
import yaml

from bot.nlu import spacy_pipeline
from bot.nlu.danger import DangerDetector, DangerSignal, PatternError, compile_pattern, examples

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def saved_pipeline(tmp_path_factory) -> Path:
    """Build our pipeline the way `make spacy` does, into a temporary folder."""
    out = tmp_path_factory.mktemp("spacy") / "en_safety"
    spacy_pipeline.main([str(out)])
    return out


@pytest.fixture(scope="session")
def detector(saved_pipeline) -> DangerDetector:
    # The saved pipeline (not the in-memory one) so the test covers what Rasa loads.
    return DangerDetector.load(nlp=spacy.load(saved_pipeline))


def category(detector: DangerDetector, text: str) -> Optional[str]:
    signal = detector.detect(text)
    return signal.category if signal else None


def assert_among_categories(detector: DangerDetector, text: str, expected: Optional[str]) -> None:
    """None: not danger. Otherwise `expected` is among the matched categories (several may match;
    the emergency reply is the same)."""
    signal = detector.detect(text)
    if expected is None:
        assert signal is None, signal
    else:
        assert signal is not None and expected in signal.categories, signal


# --------------------------------------------------------------------------- the spaCy pipeline

def test_saved_pipeline_loads_with_plain_spacy_load(saved_pipeline):
    nlp = spacy.load(saved_pipeline)
    assert nlp.pipe_names == ["normaliser"]
    assert nlp.get_pipe_meta("normaliser").factory == "attribute_ruler"
    assert spacy.util.is_compatible_version(spacy.about.__version__,
                                            spacy.info(str(saved_pipeline))["spacy_version"])


def test_pipeline_normalises_text_speak_and_misspellings(saved_pipeline):
    nlp = spacy.load(saved_pipeline)
    doc = nlp("hes gt a knif plz hlp")
    assert [t.norm_ for t in doc] == ["he", "'s", "got", "a", "knife", "please", "help"]
    assert doc[4].lemma_ == "knife"  # DIET's CountVectorsFeaturizer uses lemmas
    assert [t.norm_ for t in nlp("im hiding")] == ["i", "am", "hiding"]


def test_tokenizer_splits_words_run_together_with_punctuation(saved_pipeline):
    nlp = spacy.load(saved_pipeline)
    assert [t.text for t in nlp("hes outside!!!help")] == ["he", "s", "outside", "!!!", "help"]
    assert [t.text for t in nlp("knife.help")] == ["knife", ".", "help"]
    assert [t.text for t in nlp("e.g. this")] == ["e.g.", "this"]


def test_normalise_table_is_valid():
    table = spacy_pipeline.load_normalise_table()
    assert table["words"]["plz"] == "please"
    assert all(" " not in typed for typed in table["words"])


# --------------------------------------------------------------------------- the detector

POSITIVE = [
    ("he's hitting me", 'attack_now'),
    ('hes hitting me', 'attack_now'),
    ('HE IS HITTING ME', 'attack_now'),
    ('he hitting me pls', 'attack_now'),
    ('hes hittin me', 'attack_now'),
    ('hes hiting me help', 'attack_now'),
    ('he is beating me up', 'attack_now'),
    ('my husband is punching me', 'attack_now'),
    ('my boyfriend keeps kicking me', 'attack_now'),
    ("she's attacking me", 'attack_now'),
    ('partners beating me', 'attack_now'),
    ('hes kickin me', 'attack_now'),
    ('he wont stop hitting me', 'attack_now'),
    ('he just punched me in the face', 'attack_now'),
    ('he hit me', 'attack_now'),
    ('he hit me again', 'attack_now'),
    ('my ex just attacked me', 'attack_now'),
    ('he slapped me and pushed me down the stairs', 'attack_now'),
    ("he's dragging me by my hair", 'attack_now'),
    ('hes on top of me', 'attack_now'),
    ("he's pinning me down", 'attack_now'),
    ('he locked me in the bedroom', 'attack_now'),
    ('he wont let me out', 'attack_now'),
    ("he's going to hurt me", 'attack_now'),
    ('hes gonna hurt me', 'attack_now'),
    ('hes going 2 hurt me', 'attack_now'),
    ('he said hes going to batter me when he gets in', 'attack_now'),
    ('he is threatening me', 'attack_now'),
    ('hes thretening me', 'attack_now'),
    ('hes drunk and kicking off', 'attack_now'),
    ("he's smashing the house up", 'attack_now'),
    ('he is throwing things at me', 'attack_now'),
    ('hes going mad', 'attack_now'),
    ('im in danger', 'attack_now'),
    ('we are in danger', 'attack_now'),
    ('i am not safe', 'attack_now'),
    ('i fear for my life', 'attack_now'),
    ('im so scared', 'attack_now'),
    ('terrified', 'attack_now'),
    ('im bleeding', 'attack_now'),
    ("he's raping me", 'attack_now'),
    ("i'm being hurt", 'attack_now'),
    ("please he's hurting me", 'attack_now'),
    ("he's hurting me so bad", 'attack_now'),
    ('he punchd me', 'attack_now'),
    ('hes beatin me', 'attack_now'),
    ('he keeps hitting me and wont stop', 'attack_now'),
    ("he's strangling me", 'strangulation'),
    ('hes stranglin me', 'strangulation'),
    ('he is chocking me', 'strangulation'),
    ('hes choking me cant breathe', 'strangulation'),
    ('he strangled me', 'strangulation'),
    ("he's got his hands round my throat", 'strangulation'),
    ('he grabbed me by the neck', 'strangulation'),
    ('cant breathe', 'strangulation'),
    ('i cant breath', 'strangulation'),
    ('he choked me till i passed out', 'strangulation'),
    ('he is strangleing me', 'strangulation'),
    ('HE IS CHOKING ME', 'strangulation'),
    ('hes squeezing my neck', 'strangulation'),
    ("he's suffocating me with a pillow", 'strangulation'),
    ('he tried to strangle me just now', 'strangulation'),
    ("he's got a knife", 'weapon'),
    ('hes got a knife', 'weapon'),
    ('he gt a knif', 'weapon'),
    ('he has a knife', 'weapon'),
    ("she's got a knife", 'weapon'),
    ('HE HAS GOT A KNIFE', 'weapon'),
    ("he's holding a knife to me", 'weapon'),
    ('he has a gun', 'weapon'),
    ('hes waving a hammer at me', 'weapon'),
    ("he's coming at me with a bat", 'weapon'),
    ('he threatened me with a knife', 'weapon'),
    ('hes got a nife', 'weapon'),
    ('he pulled a knife on me', 'weapon'),
    ('he stabbed me', 'weapon'),
    ('ive been stabbed', 'weapon'),
    ('hes going to stab me', 'weapon'),
    ('knife', 'weapon'),
    ('he has knives', 'weapon'),
    ("he's sharpening a knife", 'weapon'),
    ('theres a knife', 'weapon'),
    ("he's going to kill me", 'threat_to_kill'),
    ('hes gona kill me', 'threat_to_kill'),
    ('hes gonna kill me', 'threat_to_kill'),
    ('he said he will kill me', 'threat_to_kill'),
    ("he says he'll kill me tonight", 'threat_to_kill'),
    ("he's threatening to kill me", 'threat_to_kill'),
    ('hes threating to kill me', 'threat_to_kill'),
    ("he's going to kill us", 'threat_to_kill'),
    ('he said hed kill the kids', 'threat_to_kill'),
    ('he wants me dead', 'threat_to_kill'),
    ('she is trying to kill me', 'threat_to_kill'),
    ('hes gonna murder me', 'threat_to_kill'),
    ('i think he will kill me', 'threat_to_kill'),
    ('he kil me', 'threat_to_kill'),
    ("he's threatening to kill himself and me", 'threat_to_kill'),
    ("he's outside", 'intruder'),
    ('hes outside', 'intruder'),
    ('hes outsid', 'intruder'),
    ('HES OUTSIDE', 'intruder'),
    ("he's outside my house", 'intruder'),
    ('my ex is outside the flat', 'intruder'),
    ('hes here', 'intruder'),
    ('he is here now', 'intruder'),
    ("he's at the door", 'intruder'),
    ('someone is at my window', 'intruder'),
    ('theres someone at the door', 'intruder'),
    ('someones outside', 'intruder'),
    ('hes trying to get in', 'intruder'),
    ('hes tryin to get in', 'intruder'),
    ('he is trying to break in', 'intruder'),
    ('hes breaking the door down', 'intruder'),
    ("he's kicking the door in", 'intruder'),
    ('hes banging on the door', 'intruder'),
    ('someone is banging on my window', 'intruder'),
    ('he smashed the window and hes getting in', 'intruder'),
    ("he's broken in", 'intruder'),
    ("someone's broken into my house", 'intruder'),
    ("there's a man in my garden", 'intruder'),
    ("he's in the house", 'intruder'),
    ('he got in through the back door', 'intruder'),
    ('he found me', 'intruder'),
    ('hes following me', 'intruder'),
    ("he's waiting outside my work", 'intruder'),
    ('hes on his way', 'intruder'),
    ("he's coming to get me", 'intruder'),
    ('he knows where i live now', 'intruder'),
    ('my ex is here', 'intruder'),
    ('hes downstairs', 'intruder'),
    ('fire', 'fire'),
    ('the house is on fire', 'fire'),
    ('house on fire', 'fire'),
    ('he set the house on fire', 'fire'),
    ('hes set fire to the flat', 'fire'),
    ("he's poured petrol everywhere", 'fire'),
    ('he is threatening to burn the house down', 'fire'),
    ('i can smell smoke', 'fire'),
    ('hes setting fire to my stuff', 'fire'),
    ('FIRE', 'fire'),
    ("there's a fire", 'fire'),
    ('fier', 'fire'),
    ('im hiding', 'hiding'),
    ("i'm hiding from him", 'hiding'),
    ('hiding in the bathroom', 'hiding'),
    ('im hidding in the wardrobe', 'hiding'),
    ("we're hiding upstairs", 'hiding'),
    ('i locked myself in the bathroom', 'hiding'),
    ('hiding', 'hiding'),
    ('me and the kids are hiding', 'hiding'),
    ("cant talk he's in the next room", 'hiding'),
    ("he's hitting the kids", 'child_in_danger'),
    ('hes hurting my son', 'child_in_danger'),
    ('he is beating my daughter', 'child_in_danger'),
    ('my kids are in danger', 'child_in_danger'),
    ('he hit the baby', 'child_in_danger'),
    ("he's taken the kids", 'child_in_danger'),
    ("he's snatched my baby", 'child_in_danger'),
    ("he's threatening to hurt the kids", 'child_in_danger'),
    ("the children aren't safe", 'child_in_danger'),
    ('my son is being attacked', 'child_in_danger'),
    ('hes choking my daughter', 'child_in_danger'),
    ('hes got the kids and hes drunk', 'child_in_danger'),
    ('i want to die', 'suicide'),
    ('i wanna die', 'suicide'),
    ('i want to kill myself', 'suicide'),
    ('im going to kill myself', 'suicide'),
    ('kms', 'suicide'),
    ('i dont want to be alive', 'suicide'),
    ("i've taken an overdose", 'suicide'),
    ('took a load of paracetamol', 'suicide'),
    ('i am suicidal', 'suicide'),
    ('im thinking about suicide', 'suicide'),
    ('i keep cutting myself', 'suicide'),
    ('i want to end my life', 'suicide'),
    ('i want to end it all', 'suicide'),
    ('everyone would be better off without me', 'suicide'),
    ("i'm going to hurt myself", 'suicide'),
    ('i wish i was dead', 'suicide'),
    ('i want to self harm', 'suicide'),
    ('i dont want to live', 'suicide'),
    ("i'm going to jump off the bridge", 'suicide'),
    ('I WANT TO DIE', 'suicide'),
    ('i want 2 die', 'suicide'),
    ('wana die', 'suicide'),
    ('im suicdal', 'suicide'),
    ('i can hear my neighbour being beaten', 'third_party_witness'),
    ("my sister's boyfriend is hitting her right now", 'third_party_witness'),
    ('my sisters boyfriend is beating her', 'third_party_witness'),
    ('i can hear screaming next door', 'third_party_witness'),
    ('the woman next door is screaming for help', 'third_party_witness'),
    ('my dad is hitting my mum', 'third_party_witness'),
    ('my mums boyfriend is hurting her', 'third_party_witness'),
    ('theres a man hitting a woman outside', 'third_party_witness'),
    ('my friend is being attacked', 'third_party_witness'),
    ('i can hear him hitting her through the wall', 'third_party_witness'),
    ("neighbours are fighting and she's screaming", 'third_party_witness'),
    ('my neighbour is being strangled', 'third_party_witness'),
    ('i think my neighbour is getting beaten up', 'third_party_witness'),
    ('hes strangling her', 'third_party_witness'),
    ("my friend just texted me he's hitting her", 'third_party_witness'),
    ('upstairs neighbours screaming and banging', 'third_party_witness'),
    ('help', 'help_me'),
    ('help me', 'help_me'),
    ('HELP ME PLEASE', 'help_me'),
    ('help!!!', 'help_me'),
    ('plz help', 'help_me'),
    ('pls help me', 'help_me'),
    ('please help', 'help_me'),
    ('someone help me', 'help_me'),
    ('somebody please help', 'help_me'),
    ('hlp', 'help_me'),
    ('helpp', 'help_me'),
    ('HELPPPP', 'help_me'),
    ('help help help', 'help_me'),
    ('i need help now', 'help_me'),
    ('need help', 'help_me'),
    ('call the police', 'help_me'),
    ('call 999', 'help_me'),
    ('police', 'help_me'),
    ('sos', 'help_me'),
    ('help me please!!', 'help_me'),
    ('Help.', 'help_me'),
    ('help me. please.', 'help_me'),
    ('hepl me', 'help_me'),
    ('plz hlp', 'help_me'),
]

# A second batch written later, without looking at the patterns: any danger category is right.
POSITIVE_MORE = [
    'hes back and hes got a knife',
    'omg hes here',
    'he is banging on my door',
    'please he is going to kill me',
    'my ex is trying to kick the door in',
    'im locked in the bathroom hes outside the door',
    'he has his hands round my neck',
    "he's choking me",
    'cant breathe hes on top of me',
    'HELP HE HAS A KNIFE',
    'he has a knife to my throat',
    "he's threatening me with a hammer",
    'my husband is beating me',
    'my partner just hit me and the kids are screaming',
    'hes punching me',
    'he punched me and hes still going',
    'he is kicking me in the stomach',
    'i think he is going to kill me tonight',
    'he said he is coming to kill me',
    'he says im dead',
    'my boyfriend is strangling me',
    "he's strangling me i can't breathe",
    "he's in the house",
    'someone is in my house',
    'there is a man trying to get in my window',
    'hes climbing through the window',
    "he's smashed the back door",
    'my ex has broken into my flat',
    "he's outside and won't go away",
    "he's parked outside my house",
    'hes at my front door',
    'my ex is following me home',
    "he's found where i live",
    'he is waiting for me outside work',
    "i'm hiding in the cupboard",
    'hiding in my car',
    'im in the wardrobe hiding',
    'he has the kids and hes threatening to hurt them',
    'hes hitting my daughter',
    "he's hurting the baby",
    'he threw the baby',
    'my son is being hit by his dad',
    'the house is burning',
    'he has set the house alight',
    "he's pouring petrol on the floor",
    'smoke everywhere help',
    "he's setting fire to the flat",
    "i'm going to take an overdose",
    "i've taken loads of tablets",
    'i just want to die',
    'im going to kill my self',
    'i have cut my wrists',
    'i want to end it all tonight',
    'no reason to live anymore',
    'thinking of killing myself',
    'i wana kill myself',
    'i can hear my neighbour screaming',
    'my neighbour is being beaten up',
    'the man next door is hitting his wife',
    'my friend just rang me her boyfriend is strangling her',
    'i can hear him beating her',
    'theres a woman screaming for help outside',
    'my mum is being attacked by her boyfriend',
    'my dad is strangling my mum',
    'someone is being stabbed',
    'i just saw a man punching a woman',
    'help',
    'HELP',
    'help me!!!',
    'please help me',
    'plz someone help',
    'help me now',
    'hlp me',
    'help pls',
    'HELP ME',
    'pls help',
    'need help quick',
    "he's going mad and smashing everything",
    'hes drunk and threatening me',
    'im scared hes going to hurt me',
    "he's going to hurt me",
    'i am in danger',
    'im not safe here',
    "i'm terrified he's coming back",
    "he's on his way here",
    'hes gt a gun',
    'he got a nife',
    'hes stabbd me',
    'i been stabbed',
    'he stabbed my brother',
    'he just strangled me',
    "he's got my throat",
    "he's trying to suffocate me",
    'hes trying to kill me',
    'he wants to kill me',
    'my husband said he will murder me tonight',
    'hes kickin the door down',
    'someones bangin on the windows',
    'hes tryin to brake in',
    'he wont let me leave the room',
    "he's locked me in the house",
    'hes holding me down',
    "i'm bleeding and he won't let me call anyone",
    'blood everywhere',
    'he knocked me out',
    'he raped me just now',
    'he is forcing me',
    'me and my kids are in danger',
    'HES STRANGLING ME',
    'HES OUTSIDE',
    'HES GOT A KNIFE',
    'HES KILLING ME',
    'he hitting me',
    'she hit me with a pan',
    'she is stabbing me',
    "he's pointing a gun at me",
    # thrown about, head smashed, improvised weapons
    'she shoved me down the steps',
    'he is bashing my head off the floor',
    'he broke a plate and ran at me with it',
    # threats to kill, told as a deadline or "finish off"
    'he texted that we will be dead by the morning',
    'tonight is the night she finishes me off',
    # getting in over walls, through glass
    'a man is scaling our garden wall',
    "he's smashing the glass panel in the back door",
    # fire pushed in or furniture lit
    'someone shoved a lit firework through the letterbox',
    "he's set the sofa on fire",
    # cannot call because he is near
    "can't phone anyone he's downstairs",
    # child hurt now
    'my stepmum is slapping my baby brother',
    # suicide in progress: a drop, means in hand, poison
    'i am standing on the railway tracks',
    'im sat on the roof',
    'got the rope in my hand',
    'i just drank weedkiller',
    'im about to jump',
]

# A third batch: British slang, bodies, pills, smoke, covert messages.
POSITIVE_SLANG = [
    "he's going to do me in",
    'hes battering me',
    'hes leathering me',
    "he's off his head and smashing the place",
    "he's lost the plot",
    'hes raging',
    "he's got a blade",
    "he's tooled up",
    'he glassed me',
    "he's stamping on my head",
    "he's kicking my head in",
    "he's smashing my head against the wall",
    "he's sitting on me",
    "he's got me in a headlock",
    "i'm being held hostage",
    "he's locked all the doors and taken my phone",
    'send police to my house',
    'call the police for me',
    "quick he's coming",
    'hes coming',
    "he's come back",
    "someone's looking through my window",
    'i can hear someone downstairs',
    'i heard glass smash',
    "he's slashed my face",
    'he poured boiling water on me',
    "he's set the dog on me",
    'he tried to run me over',
    "he's holding my head under water",
    'im pregnant and hes kicking my stomach',
    'he kicked my bump',
    "he's got the kids in the car and he's drunk",
    "he's walked off with the baby",
    'i took 30 tablets',
    'i swallowed a bottle of pills',
    'ive taken too many pills',
    'i want to go to sleep forever',
    "i'm on the roof and going to jump",
    'i can hear a woman being hurt',
    'my sister says he has locked her in',
    "he's got my friend by the throat",
    'help me im scared',
    'HELP!!! HES HERE',
    'someone please help me hes going crazy',
    'help im in danger',
    'get help',
    'need police now',
    'hiding under the stairs',
    'im in the loft hiding',
    'the kitchen is on fire',
    "he's torched my car",
    "he's lit the curtains",
    "he's threatening to burn us alive",
    'i can smell gas',
    'the flat is filling with smoke',
    "he's got a shank",
    'my teenage son has a knife and is threatening me',
    'my son is hitting me',
    "my daughter's boyfriend is hitting her",
    'somebody is being attacked outside my house',
    "my mum's partner is threatening to kill her",
    "there's a fight in the street and someone's got a knife",
]

# A fourth batch: stretched letters, emoji, questions asked in danger, children, pills.
POSITIVE_STRETCHED = [
    "he's here 😭",
    'KNIFE',
    'gun!!',
    'fire!!',
    'help pls!!!',
    'helpppppp meeee',
    'pleaseeee help',
    'hessss outsideeee',
    "he's hittinggg me",
    "he's got a kniiife",
    'hes strangling meeee',
    'im scareddd',
    "i'm so scared he's going to kill me",
    'he has a knife and the kids are here',
    'he has a knife!! what do i do',
    "what do i do he's trying to break in",
    "where do i go he's outside",
    "he's outside what do i do",
    "can someone call the police he's here",
    'can you call 999 for me',
    'pls call police',
    "he's kicking the door",
    'someone is kicking my door',
    'hes smashing the windows',
    'the door is being kicked in',
    'hes attacking my mum',
    "he's beating my mum up",
    "mum's boyfriend is strangling her",
    'i can hear the woman next door screaming help',
    'neighbour is screaming',
    'i think someone is being killed next door',
    "my sister just called me screaming he's got a knife",
    "my friend's boyfriend is beating her up right now",
    "he's going to hurt the baby",
    "he's threatening the kids with a knife",
    "he's got my son",
    'hes drunk and has the kids',
    'hes grabbed my daughter',
    'the baby is not breathing',
    "i've taken all my antidepressants",
    'i want to end my life tonight',
    "i'm going to jump",
    "i'm suicidal",
    'i want it all to end',
    "i'm going to hang myself",
    'i just want to die',
    'i cant go on',
    'hiding in the toilet',
    "i'm hiding in the shed",
    'hiding upstairs with the kids',
    "we're hiding",
    "the flat's on fire",
    'he set my car on fire',
    'hes threatening to set the house on fire',
    "he's choking me i can't breathe",
    "i can't breathe",
    'hands round my throat',
    "he has a gun and he's drunk",
    'hes pointing a knife at me',
    'hes holding a knife to my neck',
    'hes gonna kill me',
    'he will kill me',
    "he's going to murder us all",
    'he said tonight is the night he kills me',
    "someone's in the house",
    "there's a man at the window",
    'somebody is trying to open my door',
    "he's broke in",
    'hes got in',
    "he's climbing over the fence",
    "he's in the garden",
    "he's coming over now",
    "he said he's on his way",
    "he's 5 minutes away",
    "he's kicked me in the head",
    "he's punched me in the face and i'm bleeding",
    "he's dragging me around by my hair",
    'HES HITTING ME HELP',
    'he is hitting me and the kids',
    'she is attacking me with a knife',
]

NEGATIVE = [
    'last year he hit me',
    'he used to strangle me when we were together',
    'my ex used to beat me',
    'he hit me years ago',
    'when we were married he choked me',
    'he strangled me once about five years ago',
    'my previous partner threatened to kill me',
    'years ago my ex held a knife to me',
    'as a child i saw my dad hit my mum',
    'growing up my stepdad used to beat us',
    'my dad used to hit my mum when i was little',
    'he used to lock me in the house',
    'in 2019 he broke into my flat',
    'my ex was violent when we were together',
    'when i lived with him he used to threaten me',
    'i was raped by my ex a few years ago',
    'he used to say he would kill me',
    'i used to self harm when i was a teenager',
    'i tried to kill myself years ago',
    'last time he hit me i called the police',
    'before we split up he would choke me',
    'is it illegal to threaten to kill someone',
    'what is coercive control',
    'what is non fatal strangulation',
    'is strangulation a crime',
    'can he be arrested for hitting me',
    'is it a crime to threaten someone with a knife',
    'what counts as domestic abuse',
    "what's the sentence for threats to kill",
    'is choking someone illegal',
    'can the police arrest him for breaking in',
    'what is a non molestation order',
    'how do i get an occupation order',
    "what is clare's law",
    'does stalking count as domestic abuse',
    'is it against the law for him to follow me',
    'what does economic abuse mean',
    'how do i report a crime',
    'what are the signs of domestic abuse',
    'is it domestic abuse if he shouts at me',
    'can i apply under clares law for my sister',
    'what happens if he breaks the non molestation order',
    'what is the law on stalking',
    'is threatening to hurt someone an offence',
    'I want help with housing',
    'can you help me find a refuge',
    'can you help me',
    'i need help with my tenancy',
    'i need some advice about my rent',
    'where is the nearest refuge',
    'i want to leave my husband',
    'how do i leave safely',
    'hello',
    'hi there',
    'thanks',
    'thank you so much',
    'bye',
    'good morning',
    'yes',
    'no',
    'ok',
    "i'd like to book a callback",
    'can someone call me back tomorrow',
    'what are your opening hours',
    'can i get rehoused',
    "i'm worried about my friend",
    'how can i support my sister',
    'my partner checks my phone',
    'he controls all the money',
    "he doesn't let me see my friends",
    "he won't let me have my own bank account",
    'he puts me down all the time',
    'my ex keeps sending me messages',
    'my husband is very controlling',
    "i think i'm in an abusive relationship",
    "i don't know if this is abuse",
    'am i being abused',
    'he gets jealous when i go out',
    'i want to speak to someone',
    'can i talk to a real person',
    'how do i hide this chat',
    'how do i clear my browsing history',
    'what is the helpline number',
    'is the helpline free',
    'can i bring my dog to a refuge',
    'do refuges take boys over 12',
    'my landlord wants to evict me',
    "i'm homeless",
    'can the council help me move',
    'my heating is broken',
    'the window in my flat is broken',
    "he's cooking dinner",
    'my wife and I need housing advice',
    'he hides my bank cards',
    'I want to kick him out of the house',
    'the baby is throwing up',
    'my son has a fever',
    'i need help paying the bills',
    'i need help filling in a form',
    'help with benefits',
    'can you help me with universal credit',
    'what help is available',
    'is there any help for men',
    'i want help for my drinking',
    'how do i apply for a house',
    'my children are with their dad this weekend',
    'he has the kids every other weekend',
    "he's taking me to court for custody",
    "i've left him and i'm staying with my mum",
    "i'm safe now",
    'i am safe at the moment thanks',
    'i feel much safer now',
    'we are now separated',
    'he moved out last month',
    'my ex lives in another city',
    'i have a non molestation order',
    'the police gave me a panic alarm',
    'i work from home',
    'he is at work until 6',
    "he's at work so i can talk",
    'my partner is at the gym',
    'my son is in his room',
    'my mum is coming round later',
    'my kids are at school',
    "i'm at home",
    "i'm in the kitchen",
    'can i change the locks',
    'how do i get a new door fitted',
    'i need a new front door lock',
    'the council is fixing my door',
    'i want to report antisocial behaviour',
    'my neighbour is noisy',
    'my neighbours play loud music',
    "i'd like some information about refuges",
    'tell me about the domestic abuse act',
    'who can i talk to',
    'where can i get counselling',
    'i want to talk about what happened',
    'i feel sad',
    'i feel lonely',
    "i'm stressed",
    "i'm tired",
    "i can't sleep",
    "i'm so confused",
    "i'm upset",
    'he makes me feel worthless',
    'he calls me names',
    'he shouts a lot',
    "he's always angry",
    "he's very jealous",
    'he tracks my phone',
    'he reads my messages',
    'he took my car keys',
    'he took my passport',
    'he has my passport',
    'he got a new job',
    'he got a dog',
    'he has a new girlfriend',
    'he is out with his friends',
    "he's in prison",
    "he's in hospital",
    "he's on holiday for two weeks",
    "he's asleep",
    "he's at his mum's",
    "she's at work",
    'my ex is getting married',
    "i'm pregnant",
    'the baby is kicking',
    'my son keeps kicking the ball against the wall',
    "i'm going to the shop",
    "i'm going to die of embarrassment",
    'this is killing me',
    'my back is killing me',
    "it's killing me inside",
    'he cut me off from my family',
    "he's cut off my money",
    'he cut me off financially',
    "he's trying to get custody",
    "he's trying to get into my bank account",
    "i'm trying to get into a refuge",
    'how do i get into a refuge',
    "i'm hiding money for when i leave",
    "i've been hiding my savings from him",
    'can i get help with fire safety in my flat',
    'do you give out fire alarms',
    'i got fired from my job',
    'we had a fire drill at work',
    'i need a knife block for my new flat',
    'how do i apply for a grant',
    'what is the samaritans number',
    'what support is there for children',
    'what should i do if he turns up at my house',
    'what if he finds out where i live',
    'what should i do if he comes back',
    'what happens if he breaks in',
    "how do i know if i'm in danger",
    "i'm worried he might find me",
    'can i get a panic button in case he comes back',
    "i want to change my number so he can't find me",
    "i don't want him to find me",
    'how can i stay safe when i leave',
    'can you tell me about safety planning',
    'he used to follow me everywhere',
    'he always threatens to leave me',
    'he threatens to take the kids',
    'he says he will take the children away',
    'he threatened to report me to social services',
    "he says he'll stop paying the rent",
    "he says i'm useless",
    "i'm scared of what he'll say",
    "i'm scared to leave",
    "i'm scared of being homeless",
    "my friend's husband hits her sometimes what can she do",
    "my sister's boyfriend is controlling",
    'how do i help a friend who is being abused',
    'my daughter is being bullied at school',
    'my son is being bullied online',
    'i hit my head',
    'i hurt my back at work',
    'i hurt my knee',
    'i fell down the stairs last week',
    'i want to end the relationship',
    'i want to end things with him',
    'i want to end it with him',
    "he won't go to counselling",
    "he won't leave me alone online",
    "i don't want to go back to him",
    "i can't go to the police",
    "i can't go back",
    'i wish i had never met him',
    'my car broke down',
    'my phone is broken',
    'he broke my phone last year',
    'what time does the office close',
    'where is the council office',
    'can i have a female support worker',
    'do you speak polish',
    "i'm deaf",
    'how do i use emergencysms',
    'what is the silent solution',
    'when should i call 999',
    'should i call the police about the messages',
    'can i call 101',
    'is 999 free',
    'what number do i call in an emergency',
    'i want to speak to the police about my ex',
    "i'm a police officer asking for a victim",
    'my support worker told me to use this',
    "thanks you've been really helpful",
    "he's been hitting me for years",
    "he hits me sometimes when he's drunk",
    "he always hits me when he's drunk",
    'he hits me every weekend',
    'when he drinks he gets violent',
    'my husband has a gun licence',
    'he goes shooting at weekends',
    'he used to keep a knife under the bed',
]

NEGATIVE_SLANG = [
    "he's coming round later to get his stuff",
    "he's coming to pick up the kids tomorrow",
    'my ex is coming to court',
    'i hit my head',
    'i hurt my back',
    'i cut my finger cooking',
    "my friend's getting married",
    "i'm coming to the office",
    "the kids are screaming because they're tired",
    "my baby won't stop crying",
    'i heard he got a new girlfriend',
    'he came back from holiday',
    "he's back from work at 6",
    'i want to talk before he gets back',
    'can i come and see you',
    "i'm locked out of my account",
    'i locked myself out',
    "i'm in the car park",
    "he's at his mum's this weekend",
    'do you do home visits',
]

NEGATIVE_TRICKY = [
    'he punched me when we were together',
    'my ex strangled me in 2021',
    'my partner used to choke me',
    'he once held a knife to my throat',
    'he threatened me with a knife a couple of years ago',
    'i was stabbed by my ex years ago',
    'when i was pregnant he kicked me in the stomach',
    'he beat me throughout our marriage',
    'i left after he strangled me',
    'he has hit me in the past',
    "he's hit me before",
    'is strangling someone a criminal offence',
    'what is the punishment for threatening to kill someone',
    'can you go to prison for choking someone',
    'is it illegal to carry a knife',
    "is breaking into someone's house a crime",
    'what is the law about stalking',
    'can i get a restraining order',
    'how do i get a protective order',
    'what does section 76 mean',
    'what counts as a threat to kill',
    'is it abuse if he pushes me',
    "can i call 999 if i can't speak",
    'how does the silent solution work',
    'what happens when i press 55',
    'do i need to register for emergency sms',
    'what is 999 bsl',
    'i need help finding a solicitor',
    'i need help getting my kids back',
    'help me understand coercive control',
    'can you help me fill in a housing form',
    'please help me with my benefits',
    'i need help with money',
    'help me plan to leave',
    'how do i keep myself safe',
    'what is a safety plan',
    "my friend's husband is violent, how can i help her",
    "my daughter's ex is threatening her online",
    "my sister has bruises and won't say why",
    'i think my neighbour might be being abused',
    "i'm worried my friend is in danger",
    "i'm worried about my mum's new boyfriend",
    'my ex keeps threatening to take me to court',
    'he threatened to stop my money',
    'he threatens to leave all the time',
    "i'm scared he'll find out where i live",
    "i'm scared to go home",
    "i don't feel safe at home",
    "i'm scared he'll take the kids",
    "i'm frightened of my husband",
    'he makes me scared',
    'he gets violent when he drinks',
    "he's violent",
    'he has a temper',
    'he has anger issues',
    "he's a very jealous man",
    'i think he might hurt me one day',
    "i'm worried he will hurt me",
    'i fell over and hurt my arm',
    "i've got a headache",
    'i hurt my wrist',
    'my kids are fighting',
    'the children keep fighting',
    'my son got into a fight at school',
    "i'm going to bed",
    "i'm going to call the council",
    "i'm going to leave him",
    'can i bring knives to the refuge',
    'is there a fire escape in the refuge',
    'what is the fire procedure',
    'he set fire to my clothes when we were married',
    'he burned my things last year',
    'he smashed my phone years ago',
    'he broke the door last year',
    'he kicked the door in two years ago',
    'he used to lock me in',
    'he used to follow me',
    'he followed me everywhere when we were together',
    'i had to hide from him for years',
    'i used to hide in the bathroom',
    'we hid in a refuge',
    "i'm thinking about leaving",
    'i want to end my marriage',
    "i'd like to end the tenancy",
    'how do i end my tenancy',
    'i want to take my name off the tenancy',
    "he won't leave the house",
]

NEGATIVE_MORE = [
    'my ex hit me in 2020',
    'he strangled me before we broke up',
    'he has hit me before',
    'i left him after he hit me',
    'i want to know about housing options',
    'how long does it take to get a council house',
    'is there a refuge near me',
    'what is economic abuse',
    'what does coercive control look like',
    'is it abuse if he checks my phone',
    'how do i apply for a non-molestation order',
    'can my friend use clares law',
    "what's the difference between an occupation order and a non molestation order",
    'will the police tell him i reported him',
    'can i report something that happened years ago',
    'do i need evidence to report',
    'what happens at a marac',
    'what is an idva',
    "i'd like a callback please",
    'can someone ring me on thursday',
    'is this chat private',
    'how do i delete this conversation',
    'can he see what i search',
    'my ex monitors my social media',
    "he always tells me i'm stupid",
    'he takes all my wages',
    "he won't let me work",
    "i'm not allowed to see my family",
    'he shouts at the kids',
    "he makes me feel like i'm going mad",
    "i think i'm being gaslit",
    'he threatened to leave me',
    'he threatens to tell everyone my secrets',
    'he says he will take the kids if i leave',
    "my mum's boyfriend is horrible to her",
    "my sister's husband controls her money",
    "i'm worried about my neighbour, she always has bruises",
    'i think my friend is in an abusive relationship',
    'how can i tell if someone is being abused',
    'my daughter is scared of her boyfriend',
    'i need help with rent arrears',
    'can i get help with a deposit',
    'where can i get furniture',
    'can i stay in my home',
    'can he be removed from the tenancy',
    "i'm a man, can i get help",
    'is there help in polish',
    'what are my rights as a tenant',
    'thank you',
    "that's helpful",
    'goodbye',
    'hi',
    'hello is anyone there',
    'menu',
    'start again',
    'stop',
    'no thanks',
    'not right now',
    "i'm fine",
    'maybe later',
    'what is the number for the helpline',
    "what is the men's advice line number",
    'is refuge for women only',
    'can i bring my cat to a refuge',
    'i want to move to another area',
    'how do i get priority need',
    'am i homeless if i leave',
    "he's never been violent but he scares me",
    'he has never hit me',
    "he doesn't hit me but he controls everything",
    'my partner gets angry a lot',
    'my husband drinks too much',
    "i don't feel loved",
    'i want to save my marriage',
    'i want to know my options',
    'i was assaulted last year and it still affects me',
    'i had an abusive relationship in my twenties',
    'my father was violent when i was a kid',
    'i grew up with domestic abuse',
    "i'm a social worker looking for information",
    "i'm writing an essay on domestic abuse",
    'how many people experience domestic abuse',
    'what are the warning signs',
    "i'm scared of my partner",
    "i don't know what to do",
    'i feel stuck',
    'i feel so alone',
    'my ex keeps texting me',
    'he keeps calling me from withheld numbers',
    'my ex sends me abusive messages',
    'he posted my pictures online',
    'he hacked my email',
    'he put a tracker on my car',
    "he's taking me to court",
    'he has a solicitor',
    'my court date is next week',
    'the police are investigating',
    'he was arrested last night',
    "he's on bail",
    'he breached his bail conditions last week',
    'can i get a panic alarm',
    'can you change my locks',
    'he has a key to my house',
    'i want the locks changed',
    'my door was damaged and needs fixing',
    'he broke my door when he kicked it in last year',
    'how do i make my home safer',
    'i want to install a camera',
    'he lives around the corner',
    'he works near my house',
    'i keep seeing him around town',
    "i'm moving house next week",
    "i'm staying at my mum's for now",
    # figurative killing
    'these heels are killing me',
    'the waiting is killing me',
    'that video killed me',
    'i could kill for a pizza',
    'my dad will kill me if he sees my grades',
    # past, law and general questions
    'he slapped me back in june and i never reported it',
    'he kicked me on new years day 2019',
    'that was the day he hit me in front of my mum',
    'when i first left he threatened me with a knife',
    'he shoved me against the wall but that was months back',
    'can you get done for strangling someone',
    'is there help for women who hit their partners',
    'i still miss her even though she hurt me',
    'my grandad has a firearm certificate for his rifle',
    'he keeps a machete in the shed',
    'my toddler choked on a sweet but he is ok now',
    'that threw me off my stride',
    'i sat on the edge of the bath and cried',
    "my kids are with me and we're safe",
    'we left last night and we are safe now',
    "he doesn't know where we are",
    'thanks i feel better',
    'i want to talk to someone about my feelings',
    'do you have counselling',
    "i can't sleep because of what happened",
    'i have nightmares about him',
    'i feel anxious all the time',
    'my friend told me to message you',
    'my support worker gave me this number',
]


@pytest.mark.parametrize("text,expected", POSITIVE)
def test_detects_danger_with_category(detector, text, expected):
    signal = detector.detect(text)
    assert signal is not None, text
    assert expected in signal.categories, (text, signal)


@pytest.mark.parametrize("text", POSITIVE_MORE + POSITIVE_SLANG + POSITIVE_STRETCHED)
def test_detects_more_danger(detector, text):
    assert detector.detect(text) is not None, text


@pytest.mark.parametrize("text", NEGATIVE + NEGATIVE_MORE + NEGATIVE_SLANG + NEGATIVE_TRICKY)
def test_ordinary_messages_are_not_emergencies(detector, text):
    assert detector.detect(text) is None, (text, detector.detect(text))


def test_every_example_in_the_pattern_file_is_detected(detector):
    failures = []
    for pattern_id, cat, text in examples(detector):
        signal = detector.detect(text)
        if signal is None or cat not in signal.categories:
            failures.append((pattern_id, text, signal))
    assert not failures
    assert len(examples(detector)) > 200


def test_not_danger_examples_in_the_pattern_file(detector):
    assert detector.not_danger_examples
    for text in detector.not_danger_examples:
        assert detector.detect(text) is None, text


def test_every_pattern_has_examples(detector):
    assert all(p.examples for p in detector.patterns.values())
    assert all(r.examples for r in detector.alone_rules)


def test_all_categories_reachable(detector):
    reachable = {p.category for p in detector.patterns.values()}
    reachable |= {r.category for r in detector.alone_rules}
    assert reachable == set(detector.categories)
    assert {"attack_now", "weapon", "strangulation", "threat_to_kill", "intruder",
            "child_in_danger", "fire", "hiding", "help_me", "suicide",
            "third_party_witness"} <= reachable


def test_caps_punctuation_and_spacing_do_not_matter(detector):
    for text in ["he's got a knife", "HE'S GOT A KNIFE!!!", "hes got a knife",
                 "he’s got a knife...", "he s got a knife", "  he has   a knife  "]:
        assert category(detector, text) == "weapon", text


def test_help_alone_but_not_help_with_something(detector):
    for text in ["help", "HELP", "help me", "help me please", "please help", "plz help",
                 "someone help", "HELP ME PLEASE", "help!!!", "helpppp", "i need help now"]:
        assert "help_me" in detector.detect(text).categories, text
    for text in ["can you help me", "help with housing", "I want help with housing",
                 "can you help me find a refuge", "i need help with my rent",
                 "how can you help", "help me understand my options"]:
        assert detector.detect(text) is None, text


def test_help_alone_in_its_own_sentence(detector):
    assert category(detector, "Help. He is drunk") == "help_me"
    assert detector.detect("hi, can you help me with my housing application") is None


def test_past_events_are_not_emergencies_but_now_markers_win(detector):
    assert detector.detect("last year he hit me") is None
    assert detector.detect("he used to strangle me when we were together") is None
    assert detector.detect("he hit me years ago") is None
    assert category(detector, "he hit me years ago and he just hit me again") == "attack_now"
    assert category(detector, "he used to hit me and now hes outside") == "intruder"
    assert category(detector, "he hit me last year and he's outside right now") == "intruder"
    assert category(detector, "he used to hit me and he's here now") == "intruder"


def test_habits_are_not_emergencies_but_events_now_are(detector):
    assert detector.detect("he hits me when he's drunk") is None
    assert detector.detect("he's been hitting me for years") is None
    assert detector.detect("my ex keeps turning up at my work") is None
    assert category(detector, "he keeps hitting me") == "attack_now"
    assert category(detector, "he keeps punching me and he wont stop") == "attack_now"


def test_law_questions_are_not_emergencies_unless_danger_is_now(detector):
    assert detector.detect("is it illegal to threaten to kill someone") is None
    assert detector.detect("can he be arrested for hitting me") is None
    assert detector.detect("what is non fatal strangulation") is None
    assert category(detector, "he's strangling me is that illegal") == "strangulation"
    assert category(detector, "he just hit me can he be arrested") == "attack_now"


def test_what_if_questions_are_not_emergencies(detector):
    assert detector.detect("what should i do if he turns up at my house") is None
    assert detector.detect("what happens if he breaks the order") is None
    assert category(detector, "what do i do hes outside") == "intruder"
    assert category(detector, "what do i do he has a knife") == "weapon"


def test_threats_to_kill_now_are_danger_but_conditional_or_repeated_ones_are_not(detector):
    # Immediate danger is about this minute. A threat that depends on something that has not
    # happened, or a threat made many times before, is answered by the guidance (which takes
    # threats to kill seriously and gives 999 as general advice), not by the emergency reply.
    assert category(detector, "he's saying he'll kill me") == "threat_to_kill"
    assert category(detector, "hes going to kill me when he gets here") == "threat_to_kill"
    assert category(detector, "this is the night he finishes me off") == "threat_to_kill"
    assert detector.detect("if i leave he'll kill me") is None
    assert detector.detect("he keeps saying he will kill me if i leave") is None
    assert detector.detect("he always says he will kill me") is None
    assert detector.detect("he's threatened to kill me loads of times over the years") is None
    assert detector.detect("he threatened to kill me 3 years ago") is None


def test_suicide_category_kept_alongside_others(detector):
    signal = detector.detect("he's hitting me and i want to die")
    assert signal.category == "attack_now"
    assert "suicide" in signal.categories


def test_third_party_reports(detector):
    assert category(detector, "I can hear my neighbour being beaten") == "third_party_witness"
    assert category(detector, "my sister's boyfriend is hitting her right now") == "third_party_witness"
    assert detector.detect("my friend's husband hits her sometimes what can she do") is None


def test_misspellings_beyond_the_table_are_corrected(detector):
    assert category(detector, "hes stranglng me") == "strangulation"
    assert category(detector, "hes outsdie") == "intruder"
    assert category(detector, "hes got a kniffe") == "weapon"
    assert category(detector, "he's atacking me") == "attack_now"
    assert category(detector, "hidign") == "hiding"


def test_real_words_are_never_corrected_into_danger(detector):
    for text in ["he's cooking", "my wife is here to help with the forms", "he's acting strange",
                 "i was stranded at the station", "the heating is broken", "we are streaming a film",
                 "she's attaching the documents"]:
        assert detector.detect(text) is None, text
    for word in ["cooking", "wife", "strange", "stranded", "struggled", "bathing", "tapped"]:
        assert detector._correct(word) == word


def test_detect_accepts_the_doc_rasa_made(detector, saved_pipeline):
    nlp = spacy.load(saved_pipeline)
    text = "HES GT A KNIF"
    from_doc = detector.detect(text, doc=nlp(text.lower()))
    assert from_doc == detector.detect(text)
    assert from_doc.category == "weapon"


def test_detect_works_with_a_plain_blank_pipeline():
    detector = DangerDetector.load(nlp=spacy.blank("en"))
    assert detector.detect("hes gt a knif").category == "weapon"


def test_empty_and_odd_input(detector):
    for text in [None, "", "   ", "!!!", "\n\n", "😭", "x" * 20000]:
        assert detector.detect(text) is None
    assert detector.detect("help " + "x " * 10000) is None or True  # must not raise


def test_signal_carries_no_text(detector):
    signal = detector.detect("hes got a knife")
    assert isinstance(signal, DangerSignal)
    assert set(signal.as_dict()) == {"category", "pattern_id", "categories", "strength", "now"}
    assert "knife" not in repr(signal.as_dict()).replace("weapon.", "")


@pytest.mark.parametrize("text, now", [
    ("they will finish me tonight", True),
    ("my brother's gone for my little sister right now", True),
    ("he's just gone for my nan", True),
    ("he said he will kill me", False),
    ("he hit me", False),
])
def test_signal_says_whether_a_now_marker_is_in_the_match_clause(detector, text, now):
    signal = detector.detect(text)
    assert signal is not None
    assert signal.now is now


def test_a_now_marker_in_another_clause_does_not_count(detector):
    signal = detector.detect("he hit me last week and now i cannot sleep")
    assert signal is None or signal.now is False


def test_module_level_detect():
    from bot.nlu import danger
    assert danger.detect("he's strangling me").category == "strangulation"
    assert danger.detect("what is coercive control") is None


def test_pattern_language():
    lists = {"WHO": ["he", "she"]}
    assert compile_pattern("$WHO 's? here", lists) == [
        {"ORTH": {"IN": ["he", "she"]}}, {"ORTH": "'s", "OP": "?"}, {"ORTH": "here"}]
    assert compile_pattern("a ... b", lists)[1:5] == [{"OP": "?"}] * 4
    with pytest.raises(PatternError):
        compile_pattern("$NOPE here", lists)
    with pytest.raises(PatternError):
        compile_pattern("a? b*", lists)


def test_pattern_file_errors_are_reported(tmp_path):
    src = spacy_pipeline.PATTERNS_DIR
    (tmp_path / "normalise.yml").write_text((src / "normalise.yml").read_text())
    data = yaml.safe_load((src / "danger.yml").read_text())
    data["patterns"][0]["category"] = "no_such_category"
    (tmp_path / "danger.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(PatternError):
        DangerDetector.load(patterns_dir=tmp_path)


# --------------------------------------------------------------------------- the Rasa component

@pytest.fixture(scope="session")
def rasa_message_factory(saved_pipeline):
    """Make a Message the way the NLU pipeline does: SpacyNLP (our pipeline) then SpacyTokenizer."""
    from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
    from rasa.nlu.utils.spacy_utils import SpacyNLP
    from rasa.shared.nlu.training_data.message import Message

    spacy_nlp = SpacyNLP.create({"model": str(saved_pipeline)}, None, None, None)
    model = spacy_nlp.provide()
    tokenizer = SpacyTokenizer.create(SpacyTokenizer.get_default_config(), None, None, None)

    def make(text: str, intent: str = "greet", confidence: float = 0.97) -> Message:
        message = Message(data={"text": text})
        spacy_nlp.process([message], model)
        tokenizer.process([message])
        # what DIET would have left
        message.set("intent", {"name": intent, "confidence": confidence}, add_to_output=True)
        message.set("intent_ranking", [
            {"name": intent, "confidence": confidence},
            {"name": "emergency", "confidence": 0.02},
            {"name": "ask_housing", "confidence": 0.01},
        ], add_to_output=True)
        return message

    return make


@pytest.fixture(scope="session")
def component():
    from bot.nlu.emergency_component import EmergencyDetector
    return EmergencyDetector.create(EmergencyDetector.get_default_config(), None, None, None)


def test_rasa_spacy_components_work_with_our_pipeline(rasa_message_factory):
    message = rasa_message_factory("HES GT A KNIF")
    assert message.get("text_spacy_doc") is not None
    assert [t.text for t in message.get("text_tokens")] == ["hes", "gt", "a", "knif"] or \
        [t.text for t in message.get("text_tokens")] == ["he", "s", "gt", "a", "knif"]
    assert [t.lemma for t in message.get("text_tokens")][-1] == "knife"


def test_component_forces_emergency(component, rasa_message_factory):
    message = rasa_message_factory("hes chokin me", intent="greet", confidence=0.97)
    component.process([message])
    assert message.get("intent") == {"name": "emergency", "confidence": 1.0}
    ranking = message.get("intent_ranking")
    assert ranking[0] == {"name": "emergency", "confidence": 1.0}
    assert [r["name"] for r in ranking].count("emergency") == 1
    assert all(r["confidence"] == 0.0 for r in ranking[1:])
    danger = message.get("danger")
    assert danger["category"] == "strangulation"
    assert danger["source"] == "rules" and danger["classifier_intent"] == "greet"
    assert "chokin" not in repr(danger)
    out = message.as_dict(only_output_properties=True)
    assert out["intent"]["name"] == "emergency" and "danger" in out


def test_fallback_classifier_does_not_undo_forced_emergency(component, rasa_message_factory):
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

    message = rasa_message_factory("he's outside my house", intent="ask_housing", confidence=0.99)
    component.process([message])
    fallback = FallbackClassifier.create(
        {**FallbackClassifier.get_default_config(), "threshold": 0.5, "ambiguity_threshold": 0.05},
        None, None, None)
    fallback.process([message])
    assert message.get("intent")["name"] == "emergency"


def test_component_leaves_ordinary_messages_to_diet(component, rasa_message_factory):
    message = rasa_message_factory("last year he hit me", intent="describe_abuse", confidence=0.8)
    component.process([message])
    assert message.get("intent") == {"name": "describe_abuse", "confidence": 0.8}
    assert message.get("danger") is None


def test_component_without_spacy_doc(component):
    from rasa.shared.nlu.training_data.message import Message

    message = Message(data={"text": "HELP ME PLEASE"})
    component.process([message])
    assert message.get("intent")["name"] == "emergency"
    assert message.get("danger")["category"] == "help_me"
    empty = Message(data={"text": ""})
    component.process([empty])
    assert empty.get("intent") is None


def test_component_fails_safe(rasa_message_factory):
    from bot.nlu.emergency_component import EmergencyDetector

    class Broken:
        def detect(self, *args, **kwargs):
            raise RuntimeError("boom")

        explain = detect

    broken = EmergencyDetector(EmergencyDetector.get_default_config(), detector=Broken())
    message = rasa_message_factory("anything at all")
    broken.process([message])
    assert message.get("intent")["name"] == "emergency"


def test_component_is_registered_and_placed_in_config():
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from bot.nlu.emergency_component import EmergencyDetector

    registered = DefaultV1Recipe._from_registry("bot.nlu.emergency_component.EmergencyDetector")
    assert registered.clazz is EmergencyDetector
    assert DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER in registered.types
    assert registered.is_trainable  # the danger model is trained with the Rasa model

    names = [c["name"] for c in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]]
    here = names.index("bot.nlu.emergency_component.EmergencyDetector")
    assert names.index("DIETClassifier") < here < names.index("FallbackClassifier")
    spacy_model = next(c for c in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]
                       if c["name"] == "SpacyNLP")["model"]
    assert spacy_model == str(spacy_pipeline.DEFAULT_OUTPUT)


def test_emergency_training_examples():
    data = yaml.safe_load((ROOT / "data" / "nlu" / "emergency.yml").read_text())
    assert data["version"] == "3.1"
    (block,) = [b for b in data["nlu"] if b.get("intent") == "emergency"]
    lines = [l[2:] for l in block["examples"].splitlines() if l.startswith("- ")]
    assert len(lines) >= 40 and len(set(lines)) == len(lines)


def test_config_builds_a_valid_rasa_graph_with_the_component():
    import copy

    from rasa.engine import validation
    from rasa.engine.recipes.recipe import Recipe
    from rasa.shared.data import TrainingType

    config = yaml.safe_load((ROOT / "config.yml").read_text())
    recipe = Recipe.recipe_for_name("default.v1")
    model_config = recipe.graph_config_for_recipe(copy.deepcopy(config), {},
                                                  training_type=TrainingType.NLU)
    validation.validate(model_config)  # types, needs, required packages
    nodes = model_config.predict_schema.nodes
    (ours,) = [name for name in nodes if "EmergencyDetector" in name]
    (fallback,) = [name for name in nodes if "FallbackClassifier" in name]
    assert nodes[ours].fn == "process"
    assert nodes[fallback].needs["messages"] == ours


@pytest.mark.parametrize("text", [
    "it's not safe to call me in the evening", "don't call me when he's home",
    "call me when he's out", "weekday mornings when he's at work", "07700 900123", "after 6pm",
    "tonight", "any time", "only text, he checks my phone", "he's home at 6 so before then",
])
def test_callback_form_answers_are_not_emergencies(detector, text):
    # An emergency interrupts any form, so ordinary answers to the callback questions must not.
    assert detector.detect(text) is None


# Wider vocabulary (our own phrasings, written after set B was read; set C measures it blind).
@pytest.mark.parametrize("text,expected", [
    ("hes yanking me by my hair", "attack_now"),
    ("she's swinging a cricket bat at me", "weapon"),
    ("hes trying to pick the lock", "intruder"),
    ("he's coming up the path", "intruder"),
    ("somethings burning outside the front door", "fire"),
    ("got the pills ready", "suicide"),
    ("cant talk hes right there", "hiding"),
    ("come quick", "help_me"),
    ("im on the railway bridge", "suicide"),
    ("he keeps saying no one will ever find my body", "threat_to_kill"),
    ("hes chucking her about upstairs", "attack_now"),
])
def test_wider_danger_vocabulary(detector, text, expected):
    assert category(detector, text) == expected


@pytest.mark.parametrize("text", [
    "i'm hiding the birthday presents from my son",
    "the fire alarm keeps beeping",
    "she's killing it at uni",
    "that documentary about a man who strangled his wife upset me",
    "someone's at the door, probably a delivery",
    "no one is hitting me, i just want advice",
    "he broke my wrist in june",
    "i'm not in danger now",
])
def test_wider_vetoes_and_guards(detector, text):
    assert detector.detect(text) is None


def test_not_syntax_compiles_to_not_in():
    tokens = compile_pattern("this !$PEOPLE? is killing", {"PEOPLE": ["he", "man"]})
    assert tokens[1] == {"ORTH": {"NOT_IN": ["he", "man"]}, "OP": "?"}


def test_bare_yes_no_in_a_list_is_a_clear_error(tmp_path):
    src = (ROOT / "bot" / "nlu" / "patterns")
    for name in ("danger.yml", "normalise.yml"):
        (tmp_path / name).write_text((src / name).read_text())
    text = (tmp_path / "danger.yml").read_text().replace('NOT: [not, "n\'t", nt, "no", never]',
                                                        "NOT: [not, \"n't\", nt, no, never]")
    (tmp_path / "danger.yml").write_text(text)
    with pytest.raises(PatternError, match="quotes"):
        DangerDetector.load(patterns_dir=tmp_path)


@pytest.mark.parametrize("text,expected", [
    # "now" in the clause does not outweigh being safe, or a what-if question
    ("he was hitting me earlier but he's been arrested and i'm safe", None),
    ("he was hitting me earlier", "attack_now"),
    ("what should i do if he's outside", None),
    ("what do i do hes outside", "intruder"),
    ("if i call the police will they send someone straight away", None),
    ("send someone", "attack_now"),
    # things are not people
    ("the council tax bill is killing me", None),
    ("my ex is killing me", "threat_to_kill"),
    ("this guy is strangling me", "strangulation"),
    # wider vocabulary
    ("took 40 citalopram", "suicide"),
    ("please someone", "help_me"),
    ("hes got a spade in his hand", "weapon"),
    ("dads outside shouting", "intruder"),
])
def test_guards_that_hold_against_now_and_things_that_are_not_people(detector, text, expected):
    assert category(detector, text) == expected


# Written after blind sets H and I were measured and read (their misses: a cry for help that says it
# cannot say more, an overdose "of everything", "choking" heard as "chalking"); our own phrasings.
@pytest.mark.parametrize("text,expected", [
    ("help me i cant say more", "help_me"),
    ("HELP ME CANT SAY MUCH", "help_me"),
    ("ive injected the lot", "suicide"),
    ("i've swallowed everything i could find", "suicide"),
    ("took all my nans co-codamol", "suicide"),
    ("he's downed the lot of the beers", None),
    ("he took everything i had in the divorce", None),
    ("last year i swallowed the lot", None),
    ("my husbands chalking me", "strangulation"),
    ("the kids are chalking on the pavement", None),
    ("chalking it up to experience", None),
])
def test_after_sets_h_and_i(detector, text, expected):
    assert category(detector, text) == expected


# Written after blind sets J and K were measured and read, and after reading the cross-validation
# misses inside data/danger (docs/emergency.md, "Blind measurements"); our own phrasings.
@pytest.mark.parametrize("text,expected", [
    # J's misses, reworded
    ("hello is anyone there?? need help urgently", "help_me"),
    ("is anyone there", None),
    ("sat at the edge of the cliff, i've had enough", "suicide"),
    ("we walked to the cliff edge on holiday last summer", None),
    ("my stepdad's gone for my wee brother", "child_in_danger"),
    ("my son's gone for his dad's", None),
    ("they will finish us tonight", "threat_to_kill"),
    # cross-validation misses, reworded
    ("being knocked about rn", "attack_now"),
    ("writing this while he punches me", "attack_now"),
    ("writing this while he sleeps", None),
    ("took 60 of the amitriptyline", "suicide"),
    ("took 2 paracetamol for my head", None),
    ("my wrist is open and pouring", "suicide"),
    ("on the end of the jetty", "suicide"),
    ("my stepson is forcing the back door", "intruder"),
    ("she'll stab me if i move", "weapon"),
    ("she says she'll kill me if i ever move out", None),
    # K's false alarms, reworded
    ("my ex tried to burn the flat down back in the eighties", None),
    ("he punched me on our honeymoon", None),
    ("dad hit mum for years", None),
    ("she sends 20 texts a day saying she'll kill me", None),
    ("he threatened me with a bat earlier, i'm in another town now", None),
    ("he'll find me at some point", None),
    ("this cold is doing me in", None),
    ("i'm drowning in all this paperwork", None),
])
def test_after_sets_j_and_k(detector, text, expected):
    assert_among_categories(detector, text, expected)


# Written after blind set N was measured and read (its miss: a cry for help typed letter by letter;
# false alarms: "I don't want to die though", "just wondering, if he ...", "if I see ..."); our words.
@pytest.mark.parametrize("text,expected", [
    ("h e l p", "help_me"),
    ("H E L P  M E", "help_me"),
    ("s-o-s", "help_me"),
    ("H.E.L.P", "help_me"),
    ("p o l i c e", "help_me"),
    ("u r a star", None),
    ("i a m fine thanks", None),
    ("not going to hurt myself, just tired", None),
    ("i dont wanna die i just want it to stop", None),
    ("i don't want to live anymore", "suicide"),
    ("i'm not going to hurt myself i'm going to kill myself", "suicide"),
    ("just wondering if he burnt the house down would i lose my tenancy", None),
    ("if i hear screaming next door what should i do", None),
])
def test_after_set_n(detector, text, expected):
    assert_among_categories(detector, text, expected)


def test_letters_typed_one_by_one_become_one_word_only_when_known(detector):
    assert detector.explain("h e l p")["words"] == ["help"]
    assert detector.explain("u r a star")["words"][:3] == ["you", "are", "a"]
