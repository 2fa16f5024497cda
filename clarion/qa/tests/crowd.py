"""Fixtures for the brigade tests: paraphrase generators for organised groups pushing
one talking point, and a varied genuine audience.

A brigade member rewords the talking point the way a coordinated group does when it
knows a duplicate screen is watching: synonyms for every part, clauses reordered,
different question frames, filler, a shouted word, extra spaces, emoji, repeated
letters, zero-width characters and, in some questions, Cyrillic or Greek letters that
look like Latin ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Latin letters and the Cyrillic or Greek letters that look like them.
LOOKALIKES = {
    "a": "\u0430",
    "e": "\u0435",
    "o": "\u043e\u03bf",
    "p": "\u0440\u03c1",
    "c": "\u0441",
    "y": "\u0443",
    "x": "\u0445",
    "i": "\u0456",
    "v": "\u03bd",
    "A": "\u0410\u0391",
    "B": "\u0412\u0392",
    "E": "\u0415\u0395",
    "H": "\u041d\u0397",
    "I": "\u0406\u0399",
    "K": "\u041a\u039a",
    "M": "\u041c\u039c",
    "O": "\u041e\u039f",
    "P": "\u0420\u03a1",
    "T": "\u0422\u03a4",
    "X": "\u0425\u03a7",
}
EMOJI = [
    "\U0001f621",
    "\U0001f525",
    "\U0001f449",
    "\U0001f925",
    "\U0001f4b0",
    "\u203c\ufe0f",
    "\U0001f92c",
]
FILLER_BEFORE = [
    "",
    "",
    "Simple question:",
    "Honestly,",
    "I need to know,",
    "Genuine question -",
    "As a lifelong voter,",
    "Please answer this one:",
    "Everyone is asking:",
    "No dodging this time.",
]
FILLER_AFTER = [
    "",
    "",
    "",
    "Answer it!",
    "We deserve the truth.",
    "Yes or no?",
    "Shameful.",
    "#truth",
]


@dataclass(frozen=True)
class TalkingPoint:
    """Parts of one accusation, each with its rewordings, and sentence frames that
    put the parts in different orders."""

    parts: dict[str, list[str]]
    frames: list[str]


FISHING = TalkingPoint(
    parts={
        "who": ["Mayor Hartley", "Hartley", "Mr Hartley", "your friend Hartley", "Cllr Hartley"],
        "did": [
            "betrayed",
            "sold out",
            "stabbed in the back",
            "abandoned",
            "let down",
            "threw under the bus",
            "knifed",
        ],
        "whom": [
            "Grimsby fishermen",
            "the fishermen of Grimsby",
            "Grimsby's fishing crews",
            "the Grimsby trawlermen",
            "every boat in Grimsby",
            "Grimsby's fishing families",
        ],
        "how": [
            "over the quota deal",
            "with the quota giveaway",
            "on fishing quotas",
            "by signing away our quota",
            "in that quota stitch-up",
            "when he traded the quota away",
        ],
    },
    frames=[
        "Why did {who} {did} {whom} {how}?",
        "{who} {did} {whom} {how}. Why are you covering for him?",
        "Is it true that {who} {did} {whom} {how}?",
        "When will you admit {who} {did} {whom} {how}?",
        "{how}, {who} {did} {whom} - will you sack him?",
        "How can you defend {who}? He {did} {whom} {how}.",
        "{whom} were {did} by {who} {how}. Where is your apology?",
    ],
)

DONOR = TalkingPoint(
    parts={
        "who": ["you", "the leader", "our so-called leader", "you personally"],
        "took": [
            "took fifty grand from",
            "pocketed cash from",
            "accepted secret donations from",
            "was bankrolled by",
            "got paid off by",
            "took a backhander from",
        ],
        "whom": [
            "Vantexa Oil",
            "the Vantexa oil lobby",
            "Vantexa's lobbyists",
            "oil giant Vantexa",
            "Vantexa Petroleum",
        ],
        "when": [
            "before the climate vote",
            "ahead of the climate bill vote",
            "just before voting on the climate bill",
            "days before the climate vote",
            "right before you voted down the climate bill",
        ],
    },
    frames=[
        "Why {who} {took} {whom} {when}?",
        "Is it true {who} {took} {whom} {when}?",
        "{when} {who} {took} {whom}. Explain yourself.",
        "Explain why {who} {took} {whom} {when}!",
        "Did {who} really think nobody would notice {who} {took} {whom} {when}?",
        "{whom} and the money: {who} {took} {whom} {when}, didn't you?",
    ],
)

PENSIONS = TalkingPoint(
    parts={
        "doc": [
            "the leaked Davos memo",
            "your secret Davos memo",
            "the Davos document",
            "that memo from Davos",
        ],
        "plan": [
            "scrapping the triple lock",
            "abolishing the pension triple lock",
            "axing the triple lock",
            "ending the triple lock on pensions",
            "killing off the triple lock",
        ],
        "who": ["pensioners", "our grandparents", "retired people", "every OAP"],
    },
    frames=[
        "Why does {doc} talk about {plan} and robbing {who}?",
        "{doc} shows you are {plan}. What do you say to {who}?",
        "Will you come clean about {doc} and {plan}? {who} deserve better.",
        "Admit it: {doc} is about {plan} behind the backs of {who}.",
        "Is {plan} in {doc} true? Tell {who} the truth.",
    ],
)

BRIGADES = {"fishing": FISHING, "donor": DONOR, "pensions": PENSIONS}


def _disguise(text: str, rng: random.Random, *, lookalikes: bool) -> str:
    words = text.split(" ")
    if rng.random() < 0.4:
        i = rng.randrange(len(words))
        words[i] = words[i].upper()
    if rng.random() < 0.3:
        i = rng.randrange(len(words))
        w = words[i]
        vowels = [k for k, ch in enumerate(w) if ch.lower() in "aeiou"]
        if vowels:
            k = rng.choice(vowels)
            words[i] = w[:k] + w[k] * rng.randint(3, 6) + w[k + 1 :]
    if rng.random() < 0.3:
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 3:
            k = rng.randrange(1, len(w) - 1)
            words[i] = w[:k] + rng.choice(["\u200b", "\u200d", "\u00ad"]) + w[k:]
    spaces = [" " if rng.random() < 0.8 else rng.choice(["  ", "   ", " \u00a0"]) for _ in words]
    text = "".join(w + s for w, s in zip(words, spaces, strict=True)).strip()
    if lookalikes:
        rate = rng.uniform(0.3, 0.8)
        text = "".join(
            rng.choice(LOOKALIKES[ch]) if ch in LOOKALIKES and rng.random() < rate else ch
            for ch in text
        )
    if rng.random() < 0.6:
        text = f"{text} {rng.choice(EMOJI) * rng.randint(1, 3)}"
    if rng.random() < 0.25:
        text = f"{rng.choice(EMOJI)} {text}"
    if rng.random() < 0.3:
        text = text.rstrip("?.") + "?" * rng.randint(2, 4)
    return text


def paraphrase(point: TalkingPoint, rng: random.Random, *, lookalikes: bool = False) -> str:
    """One brigade member's wording of the talking point (at most 280 characters)."""
    chosen = {name: rng.choice(options) for name, options in point.parts.items()}
    sentence = rng.choice(point.frames).format(**chosen)
    sentence = sentence[0].upper() + sentence[1:]
    text = " ".join(p for p in (rng.choice(FILLER_BEFORE), sentence, rng.choice(FILLER_AFTER)) if p)
    return _disguise(text, rng, lookalikes=lookalikes)[:280]


@dataclass(frozen=True)
class Asker:
    name: str
    email: str
    ip: str
    text: str
    brigade: str  # "" for a genuine asker


def brigade(name: str, size: int, *, seed: int, domains: int = 12) -> list[Asker]:
    """``size`` members, each a fresh address on one of ``domains`` domains and their
    own home connection; about a third use look-alike letters."""
    rng = random.Random(seed)
    point = BRIGADES[name]
    members = []
    for i in range(size):
        members.append(
            Asker(
                name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                email=f"{name}{seed}x{i}@{name}-mail{i % domains}.test",
                ip=f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}",
                text=paraphrase(point, rng, lookalikes=rng.random() < 0.35),
                brigade=name,
            )
        )
    return members


FIRST_NAMES = [
    "Amira", "Ben", "Cara", "Dev", "Ella", "Finn", "Grace", "Hugo", "Isla", "Jai", "Kate",
    "Leon", "Maya", "Nia", "Owen", "Priya", "Quinn", "Rhys", "Sana", "Tom", "Uma", "Vik",
    "Wren", "Yusuf", "Zoe",
]  # fmt: skip
LAST_NAMES = [
    "Ahmed", "Brown", "Clarke", "Davies", "Evans", "Fraser", "Green", "Hughes", "Iqbal",
    "Jones", "Khan", "Lewis", "Morgan", "Nolan", "Owusu", "Patel", "Reid", "Singh",
    "Taylor", "Walsh",
]  # fmt: skip

# A genuine audience: what real supporters ask, several on the same broad subjects
# (buses, housing, the NHS, fishing itself) but each a question of its own.
GENUINE = [
    "Will you bring bus services back under public control in West Yorkshire?",
    "The 42 bus to my village was cut last year. How will you restore rural routes?",
    "Would you cap bus fares at two pounds permanently?",
    "What is your plan for buses that never turn up on time in Bristol?",
    "Can disabled people get free bus travel before 9am under your plans?",
    "Are electric buses part of your clean air plan for city centres?",
    "Will night buses run again for shift workers at the hospital?",
    "How will you make council housing affordable for young families?",
    "What will you do about landlords who ignore damp and mould?",
    "Will you end no-fault evictions in your first year?",
    "How many social homes will you build each year, and where?",
    "My rent went up 30% this year. Will you introduce rent controls?",
    "What help is there for first-time buyers priced out of London?",
    "How will you cut NHS waiting lists for hip operations?",
    "Will nurses get a pay rise that keeps up with inflation?",
    "My GP surgery closed. How will you get more GPs into small towns?",
    "What is your plan for mental health services for teenagers?",
    "Will dentists take on NHS patients again under your government?",
    "How will you fix ambulance response times in the countryside?",
    "Will you scrap tuition fees or lower them?",
    "What will you do about crumbling concrete in school buildings?",
    "Should teachers be paid more to stop them leaving the profession?",
    "Will free school meals be extended to every primary pupil?",
    "How will you support children with special educational needs?",
    "When will the country reach net zero under your plan?",
    "Will you ban new oil and gas licences in the North Sea?",
    "How will you help households insulate their homes this winter?",
    "What will you do about sewage being dumped in our rivers?",
    "Will you protect green belt land from developers?",
    "How will you bring down energy bills for pensioners?",
    "Will the state pension age rise again?",
    "What support will you give carers looking after relatives at home?",
    "How will you fund social care without selling people's homes?",
    "Will you raise the minimum wage to a real living wage?",
    "What will you do about zero-hours contracts?",
    "Will you bring the railways back into public ownership?",
    "Why are train tickets so much dearer here than in Europe?",
    "Will HS2 ever reach the north of England?",
    "How will you make our streets safer for cyclists?",
    "What will you do about potholes on rural roads?",
    "How will you rebuild trust in the police after recent scandals?",
    "Will you put more community officers back on the beat?",
    "What is your position on votes at sixteen?",
    "Will you reform the House of Lords?",
    "Should we move to proportional representation for general elections?",
    "How will you handle small boat crossings humanely?",
    "What is your plan for asylum processing backlogs?",
    "Will you rejoin the Erasmus student exchange scheme?",
    "How will you improve trade with Europe for small exporters?",
    "What support is there for small fishing communities hit by rising fuel costs?",
    "Will you invest in new harbours and processing plants for the fishing industry?",
    "How will you help high streets where every other shop is empty?",
    "Will you cut business rates for independent shops?",
    "What will you do about broadband in remote Highland villages?",
    "Will you keep the winter fuel payment for all pensioners?",
    "How will you tackle child poverty in the north east?",
    "Will you remove the two-child limit on benefits?",
    "How will you make childcare affordable for working parents?",
    "Will you protect funding for public libraries?",
    "What is your plan for local arts and music venues?",
    "How do you plan to support farmers after the subsidy changes?",
    "Will you label food imports that don't meet our animal welfare standards?",
    "What will you do to stop water bills rising every year?",
    "Should water companies be nationalised?",
    "How will you help veterans find homes and jobs?",
    "Will defence spending go up, and how will you pay for it?",
    "What is your position on the war in Ukraine and further aid?",
    "How will you support people in Gaza?",
    "Will you raise taxes on the very wealthy?",
    "Will you close the loopholes that let big companies avoid tax?",
    "What will you do about the cost of school uniforms?",
    "How will you protect workers from AI replacing their jobs?",
    "Will you strengthen the right to work from home?",
    "What would you say to young people who feel politics ignores them?",
    "How will your party win back voters in seaside towns?",
    # Close to the brigades' subjects, and genuine.
    "What is your policy on fishing quotas now that we have left the EU?",
    "Will your party refuse donations from fossil fuel companies?",
    "Will you keep the pension triple lock for the whole parliament?",
    "What will you do to bring skilled jobs back to Grimsby?",
    "How will the climate bill be paid for without hitting poorer families?",
    "Would you back a ban on MPs taking second jobs with lobbying firms?",
]


def genuine(*, seed: int) -> list[Asker]:
    """Every genuine question once, each from a different person on webmail."""
    rng = random.Random(seed)
    askers = []
    for i, text in enumerate(GENUINE):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        domain = rng.choice(["gmail.com", "outlook.com", "yahoo.co.uk", "btinternet.com"])
        askers.append(
            Asker(
                name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}{i}@{domain}",
                ip=f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}",
                text=text,
                brigade="",
            )
        )
    return askers


def mixed_session(*, seed: int = 7, brigades: dict[str, int] | None = None) -> list[Asker]:
    """A session as it arrives: a third of the genuine audience first, then the
    brigades (sixty members each by default) interleaved with the rest of it."""
    rng = random.Random(seed)
    audience = genuine(seed=seed)
    rng.shuffle(audience)
    early, late = audience[: len(audience) // 3], audience[len(audience) // 3 :]
    attack: list[Asker] = []
    for k, (name, size) in enumerate((brigades or {"fishing": 60}).items()):
        attack += brigade(name, size, seed=seed * 100 + k)
    burst = late + attack
    rng.shuffle(burst)
    return early + burst
