"""Review text from templates whose wording follows the reviewer's rating, with deliberate noise.

Wording is chosen from a sentiment level that usually equals the star rating but sometimes drifts
one level (mixed feelings behind a 4-star review, mild praise behind a 2-star one), and negations
("not good", "not bad at all") appear on both sides, so a bag-of-words model learns sentiment
well but not perfectly.
"""

from __future__ import annotations

import numpy as np

# Index 0..4 = sentiment level for ratings 1..5.
_OPENERS: tuple[tuple[str, ...], ...] = (
    (
        "Terrible purchase.",
        "Really disappointed.",
        "Waste of money.",
        "Awful, would not recommend.",
        "Not good at all.",
        "Broke within a week.",
    ),
    (
        "Not great.",
        "Below my expectations.",
        "Rather poor quality.",
        "Not worth the price.",
        "Somewhat disappointing.",
        "It is okay but not good.",
    ),
    (
        "It is okay.",
        "Average product.",
        "Does the job, nothing special.",
        "Mixed feelings about this one.",
        "Fine for the price.",
        "Neither good nor bad.",
    ),
    (
        "Good product.",
        "Pretty happy with it.",
        "Works well, minor issues.",
        "Good, but delivery was slow.",
        "Nice quality, not perfect.",
        "Solid choice overall.",
    ),
    (
        "Excellent!",
        "Absolutely love it.",
        "Perfect, exactly as described.",
        "Great value, highly recommend.",
        "Not bad at all, actually brilliant.",
        "Fantastic quality.",
    ),
)

_CLOSERS: tuple[tuple[str, ...], ...] = (
    (
        "Returned it immediately.",
        "Never buying again.",
        "Customer service was useless.",
        "Cheap and flimsy.",
        "",
    ),
    (
        "Would not buy again.",
        "Expected more.",
        "Packaging was damaged.",
        "Not recommended.",
        "",
    ),
    (
        "Might buy again.",
        "Okay for everyday use.",
        "Delivery was on time.",
        "",
        "",
    ),
    (
        "Would buy again.",
        "Recommended.",
        "Fast delivery.",
        "Happy overall.",
        "",
    ),
    (
        "Will definitely buy again!",
        "Five stars from me.",
        "Exceeded my expectations.",
        "Best purchase this year.",
        "",
    ),
)

# Four words per product category, one category per line.
_CATEGORY_WORD_LINES = """
electronics: battery screen charger sound
home_kitchen: pan kitchen blender cookware
fashion: fit fabric size colour
beauty: skin scent cream texture
sports: workout grip running gym
toys: kids game puzzle toy
books: story author pages read
garden: plants hose garden soil
grocery: taste coffee snack flavour
pet_supplies: dog cat treats leash
office: paper desk pens printer
jewelry: necklace ring shine clasp
"""
_CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    name: tuple(words.split())
    for name, words in (line.split(":") for line in _CATEGORY_WORD_LINES.split("\n") if line)
}

_CATEGORY_FRAMES: tuple[str, ...] = (
    "The {w} is as expected.",
    "About the {w}:",
    "Bought it for the {w}.",
    "Mainly used for the {w}.",
)


def review_texts(ratings: np.ndarray, categories: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Review texts whose wording tracks ``ratings`` (1..5) with noise.

    Args:
        ratings: integer star ratings, one per review.
        categories: category name of the reviewed product, one per review.
        rng: random generator (the caller owns seeding).

    Returns:
        Object array of strings, one per review.
    """
    n = len(ratings)
    if n == 0:
        return np.array([], dtype=object)
    # Every level has as many openers (closers), every category as many words.
    n_openers, n_closers, n_words = len(_OPENERS[0]), len(_CLOSERS[0]), len(_CATEGORY_WORDS["books"])
    level = np.asarray(ratings, dtype=np.int64) - 1
    # Wording drifts one level for a fifth of reviews, so stars and words disagree a little.
    shift = rng.choice(np.array([-1, 0, 1]), size=n, p=[0.1, 0.8, 0.1])
    level = np.clip(level + shift, 0, 4)
    opener_idx = rng.integers(0, n_openers, size=n)
    closer_idx = rng.integers(0, n_closers, size=n)
    openers = np.array([opener for at_level in _OPENERS for opener in at_level], dtype=object)
    closers = np.array([closer for at_level in _CLOSERS for closer in at_level], dtype=object)
    first = openers[level * n_openers + opener_idx]
    last = closers[level * n_closers + closer_idx]

    cat_names = sorted(_CATEGORY_WORDS)
    cat_lookup = {name: i for i, name in enumerate(cat_names)}
    # Every (frame, word) sentence up front, so texts are assembled by indexing only.
    sentences = np.array(
        [
            " " + frame.format(w=word)
            for name in cat_names
            for word in _CATEGORY_WORDS[name]
            for frame in _CATEGORY_FRAMES
        ],
        dtype=object,
    )
    unique_categories, inverse = np.unique(
        np.asarray(categories, dtype=object).astype(str), return_inverse=True
    )
    cat_idx = np.array([cat_lookup.get(str(name), 0) for name in unique_categories], dtype=np.int64)[inverse]
    n_frames = len(_CATEGORY_FRAMES)
    word_idx = rng.integers(0, n_words, size=n)
    frame_idx = rng.integers(0, n_frames, size=n)
    sentence_idx = (cat_idx * n_words + word_idx) * n_frames + frame_idx
    middle = sentences[sentence_idx]
    # A third of reviews say nothing about the product itself.
    middle = np.where(rng.random(n) < 0.35, "", middle)
    last = np.where(last == "", "", " " + last)
    return np.asarray(first + middle + last, dtype=object)
