"""Random experiment names: ``<adjective>-<noun>``, chosen before the run starts.

Words are drawn from the operating system's random source (a user's
``random.seed`` cannot make names repeat, and the `random` module, slow to
import, is not needed), and a name is redrawn until it is free under the baseline.

    >>> name = random_name(set())
    >>> adjective, noun = name.split("-")
    >>> adjective in ADJECTIVES and noun in NOUNS
    True
"""

from __future__ import annotations

import os
from collections.abc import Container, Sequence

_ADJECTIVES_TEXT = """
agile amber ample angry antsy apish arced ashen awake azure balmy bared basic beady beefy
bland blank bleak blond blown bluer blunt boggy bonny bossy brave brief briny brisk broad
brown bumpy burly bushy busty cagey calmy candy canny carny chewy chill civic civil clean
clear close cloud corny crisp curly cushy dandy deism dense dingy dizzy dopey dorky dotty
dowdy downy dozen dusky dusty eager early earth eerie elfin empty equal faint fancy fazed
fiery fishy fizzy flash fleet flory fluid foggy found frail frank fresh fried frizz funny
furry fussy fuzzy gaudy gauzy giddy gilded glial gluey godly goofy gooey grand grassy great
green gummy gusty hairy handy happy hardy hasty hazel heady hefty hilly hoary holey homey
honey husky icier itchy jazzy jolly jumpy juicy kempt known lacey lanky large leafy leaky
lemon level light lilac limey lined lithe livid loamy local lofty loose lowly loyal lucid
lucky lumpy lunar lusty magic major malty mangy manly marly meaty merry messy milky minty
mirky misty moist moody mossy mousy muddy muggy mural murky mushy musky musty naive nervy
nippy noble noisy nutty oaken oaked ocean olden olive onion other outer owing pacey palmy
paper peaky pearl peppy perky pesky petty phony piney pithy plain plumb plump plush polar
poppy potty pouty prime prize proud pudgy puffy pulpy punky pushy quick quiet rainy rapid
raspy ratty ready regal rifle rigid risky ritzy roomy rosey rough round royal ruddy runny
rural rusty sandy sassy saucy scaly seedy shady shaky sharp shiny showy silky silly sleek
sleepy slick slimy small smart smoky snowy soapy soggy solar solid sonic sooty sorry sound
spicy spiky spiny sport stark steep stern stony stout sudsy sulky sunny super surly swank
sweet swift tabby tacky tangy tardy tasty teary tense testy thick third tidal tight timid
tipsy toned tough trite tubby tufty twang ultra unlit upper urban usual utter vague valid
vapid vital vivid vocal wacky wavey waxen weary weedy welsh whole widen windy wispy witty
woody wooly wordy wormy woven yummy zappy zesty zingy zippy
"""

_NOUNS_TEXT = """
abbe acme aery alba alga alms amah anna ante apex arch aria arms army atom aunt axis baby
bait bale ball band bang bank barb bard barn base bass bath bead beak beam bean bear beef
beer bell belt bend berg bike bill bird blip blob boar boat body bola bolt bond bone book
boom boot bowl brie brig buck buff bull bump bunk buoy burr bush byte cafe cake calf camp
cane cape carp cart case cask cave cell chad chap chin chip city clam clan claw clay clef
clip club coal coat code coin colt cone cook cord cork corn cove crab crew crib crow cube
cult curb curd cusp dame dart date dawn deck deer dell desk dhow dial dice dill dime dish
disk dock dodo doge doll dome door dove drum duck dune dusk dust earl east echo edge epic
ewer face fact fair fang farm fawn feat fern fife film finn fire fish flag flax flea flip
flue foal foam fold font food fork form fort fowl frog fuel gale game gate gaur gear gene
germ gift gila glen glue gnat goal goat gong gown grit gulf gull guru hail hair hake hare
harp hawk haze heap heel helm herb herd hero hill hive hold hole hood hoof hook horn hose
hull hunt idea inch iris isle jade jamb jazz jeep jest jinn joey jolt judo jury kale kelp
kiln kite kiwi knot koan kudu lace lake lamb lamp land lane lark lava lawn leaf leek lens
lily lime line link lion lisp loaf loam lobe loch loft loom lore lute lynx mace mail malt
mane maze mead meal mesa mesh mica mill mime mint mist mite moat mode mole monk moon moor
moss moth mule muse myth nail name nave neck nest newt node noon nova oath oboe odds ogre
orca oryx oven owl pace page pail palm pane park part path pawn peak pear peat pier pike
pine pipe plum poem pond pony pool port puma quay quip raft rail rain rake ramp reed reef
rhea rice rind ring road robe rock roof rook root rope rose ruby rune rush rust sage sail
salt sand seal seed shed ship shoe silk silo skua sled slug snow soap sock sofa soil sole
song soup spur star stew swan tail tank tape teal tent tern tide tile toad tofu tome tree
trout tuba tuna turf tusk twig unit urn vale vane vase veil vent vest vine vole wadi wand
wasp wave weed well whey wick wing wisp wolf wren yack yak yard yarn yeti yoga yolk zeal
zebu zero zinc zone
"""

ADJECTIVES = tuple(_ADJECTIVES_TEXT.split())
NOUNS = tuple(_NOUNS_TEXT.split())

_DRAW_LIMIT = 1 << 32


def _choice(words: Sequence[str]) -> str:
    """A uniformly drawn word (draws past the last whole multiple are redrawn: no bias)."""
    bound = _DRAW_LIMIT - _DRAW_LIMIT % len(words)
    while True:
        draw = int.from_bytes(os.urandom(4), "big")
        if draw < bound:
            return words[draw % len(words)]


def random_name(taken: Container[str]) -> str:
    """A fresh ``adjective-noun`` name not in ``taken``."""
    while True:
        name = f"{_choice(ADJECTIVES)}-{_choice(NOUNS)}"
        if name not in taken:
            return name
