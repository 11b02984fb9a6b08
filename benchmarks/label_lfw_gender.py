"""Label LFW people's gender by first name, for the gender-accuracy benchmark (benchmarks/attributes.py).

Each LFW person folder is named First_Last; the first name is looked up in gender-guesser 0.4.0's dictionary (Jörg
Michael's list of about 40,000 first names with their use by country). Only names the dictionary calls plainly
"male" or "female" are labelled; "mostly_male", "mostly_female", "andy" (either) and unknown names are left out.
HAND holds the labels set by hand afterwards: the first photos of all 163 people on whom the network and the
dictionary disagreed were looked at, with what is publicly known of them (Andrea Bocelli, Kimi Raikkonen, Jerry
Hall, ...): 68 dictionary labels were wrong and are set here ("hand" in the label file's source column); 3 people
could not be told with confidence and are left out ("" here). Only disagreements were reviewed: a person whom the
dictionary and the network both got wrong still counts as right. With 1.4% of dictionary labels wrong (68 of 4,864)
and the network wrong on about 2%, that is about one person if the two err independently.

Usage: pip install gender-guesser==0.4.0; python benchmarks/label_lfw_gender.py > benchmarks/data/lfw_gender.csv
"""

from __future__ import annotations

import csv
import sys

import gender_guesser.detector as gender_guesser
import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)

from facegate.experiments.lfw import lfw_dir

HAND: dict[str, str] = {
    "Aby_Har-Even": "male",
    "Andrea_Bocelli": "male",
    "Anjum_Hussain": "male",
    "Anzori_Kikalishvili": "male",
    "Bela_Karolyi": "male",
    "Corliss_Williamson": "male",
    "Daniele_Bergamin": "male",
    "Daniele_Nardello": "male",
    "Dany_Heatley": "male",
    "Darin_Erstad": "male",
    "Dule_Hill": "male",
    "Elgin_Baylor": "male",
    "Eli_Broad": "male",
    "Eli_Rosenbaum": "male",
    "Eli_Stutsman": "male",
    "Ira_Einhorn": "male",
    "Iran_Brown": "male",
    "Izzat_Ibrahim": "male",
    "Joan_Laporta": "male",
    "Joschka_Fischer": "male",
    "Kiki_Vandeweghe": "male",
    "Kimi_Raikkonen": "male",
    "Laurence_Fishburne": "male",
    "Laurence_Tribe": "male",
    "Laurie_Chan": "male",
    "Lin_Yi-fu": "male",
    "Lindy_Ruff": "male",
    "Linn_Thornton": "male",
    "Lucia_Kenny_Anthony": "male",
    "Marion_Barry": "male",
    "Michele_Placido": "male",
    "Minnie_Mendoza": "male",
    "Nanni_Moretti": "male",
    "Nate_Blackwell": "male",
    "Nate_Huffman": "male",
    "Nate_Hybl": "male",
    "Nicola_Bono": "male",
    "Nur_Jaafar": "male",
    "Rand_Beers": "male",
    "Rand_Miller": "male",
    "Rio_Ferdinand": "male",
    "Sabah_Al-Ahmad_Al-Jaber_Al-Sabah": "male",
    "Tora_Takagi": "male",
    "Alex_Sink": "female",
    "Alexis_Bledel": "female",
    "Dominik_Garcia-Lorido": "female",
    "Drew_Barrymore": "female",
    "Elisha_Cuthbert": "female",
    "Evan_Rachel_Wood": "female",
    "Jaime_Pressly": "female",
    "Jean_Brumley": "female",
    "Jean_Carnahan": "female",
    "Jean_Nagel": "female",
    "Jerry_Hall": "female",
    "Jules_Asner": "female",
    "Kay_Bailey_Hutchison": "female",
    "Kay_Behrensmeyer": "female",
    "Lane_Bryant": "female",
    "Malak_Habbak": "female",
    "Marian_Dolan": "female",
    "Michael_Michele": "female",
    "Noel_Niell": "female",
    "Paddy_Torsney": "female",
    "Paris_Hilton": "female",
    "Rene_Portland": "female",
    "Rosario_Dawson": "female",
    "Toni_Braxton": "female",
    "Toni_Jennings": "female",
    "Lin_Yung_Hsi": "",
    "Marion_Fahnestock": "",
    "Peter_Chan": "",
}


def main() -> int:
    names = gender_guesser.Detector(case_sensitive=False)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["person", "gender", "source"])
    for folder in sorted((lfw_dir() / "images_deepfunneled").iterdir()):
        person = folder.name
        if person in HAND:
            if HAND[person]:
                out.writerow([person, HAND[person], "hand"])
        elif (said := names.get_gender(person.split("_")[0])) in ("male", "female"):
            out.writerow([person, said, "first name"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
