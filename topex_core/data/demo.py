"""The embedded demo: support tickets of an imaginary electronics shop, written for TopEx.

Five classes (account, billing, returns, shipping, technical). Each class has a few
common sub-topics and one rarer *confusable* sub-topic that is written in another
class's vocabulary — an express delivery fee to refund (shipping,
reads like billing), an app that crashes at payment (technical, reads like billing), a
parcel crushed in transit (returns, reads like shipping), an auto-renewed membership
(billing, reads like account), a lost authenticator phone (account, reads like
technical). The pockets are rare (about 1.5% of a class) and worded many ways, so the few
rows of a pocket inside a 1,000-row training subset of the 10,000 do not cover the rest: the
classifier makes its mistakes there, which is what the explorer should find and name.

The test split is 1,000 rows drawn like the training rows plus ``POCKET_TEST_ROWS`` more
rows of each pocket (drawn apart, none also in training): at the natural rate a pocket
has three test rows, too few to tell a repair from chance; with these a round's effect
on its target is measured against the control on forty rows.

Rows come from templates with slots filled by a seeded random generator, so the files in
``demo_data/`` are reproducible: ``python -m topex_core.data.demo`` rewrites them and a test
checks they match.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from topex_core.data.dataset import TextDataset, dataset_from_frame

DEMO_DIR = Path(__file__).resolve().parent / "demo_data"
TRAIN_ROWS, TEST_ROWS = 10000, 1000
SEED = 7

PRODUCTS = ["laptop", "phone", "headphones", "smartwatch", "router", "tablet", "camera",
            "keyboard", "monitor", "speaker", "e-reader", "game console", "printer", "drone"]
OPENERS = ["", "", "Hi, ", "Hello, ", "Hello team, ", "Good morning, ", "Hey there, ",
           "Dear support, ", "Urgent: "]
CLOSERS = ["", "", " Thanks.", " Please help.", " Any update?", " Thank you in advance.",
           " This is really frustrating.", " Regards, {name}.", " Cheers, {name}."]
NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Greta", "Hugo", "Ines", "Jonas", "Kiri",
         "Lena", "Mo", "Noor", "Olu", "Priya", "Quinn", "Rosa", "Sami", "Tomas"]
CONFUSABLE_WEIGHT = 0.12  # about 1.5% of a class: about 3 rows of each in a 1,000-row subset
POCKET_TEST_ROWS = 40  # rows of each pocket added to the test split (see the module)

# class -> list of (sub-topic, weight, templates); the last sub-topic of each class is the
# confusable one, written in the vocabulary of the class named in its comment.
TOPICS: dict[str, list[tuple[str, float, list[str]]]] = {
    "account": [
        ("password reset", 3, [
            "I forgot my password and the reset link in the email has already expired.",
            "The password reset page says my email address is not registered.",
            "I reset my password {days} times today and still cannot sign in to my account.",
            "How do I change my password? The old one no longer works on the login page.",
        ]),
        ("profile change", 3, [
            "Please change the email address on my account, I no longer use the old one.",
            "How can I update my username and profile details?",
            "I want to merge my two accounts into one, they use different email addresses.",
            "My account shows the wrong name, can you edit my profile?",
        ]),
        ("close account", 2, [
            "Please delete my account and all personal data you hold about me.",
            "How do I close my account permanently? I do not want to receive emails.",
            "I want my account removed under data protection rules.",
        ]),
        ("lost second factor", CONFUSABLE_WEIGHT, [  # reads like technical
            "Since the last software update my {product} will not accept my login code.",
            "The {product} shows a black screen when I open the sign-in code app.",
            "After the firmware update the {product} stopped showing my verification code.",
            "Bluetooth pairing of my security key with the {product} fails, I cannot log in.",
            "My {product} drops the connection every time it should get my login code.",
            "The {product} will not connect, so the two-factor code never arrives.",
            "My {product} battery died and with it the code app I sign in with.",
            "The {product} is stuck after the update and I need my login code.",
        ]),
    ],
    "billing": [
        ("double charge", 3, [
            "I was charged twice for order {order}, please refund the duplicate payment.",
            "My card was debited {amount} two times for the same purchase.",
            "There are two identical payments of {amount} on my bank statement for one order.",
        ]),
        ("invoice", 3, [
            "Please send me a VAT invoice for order {order}, my company needs it.",
            "The invoice for my {product} shows the wrong billing address.",
            "Can I get an invoice with my company name instead of my own name?",
            "I need a receipt for the {amount} payment I made last week.",
        ]),
        ("payment declined", 2, [
            "My credit card keeps getting declined at payment although it has funds.",
            "The payment for my {product} failed but the money was still taken from my card.",
            "Why was my PayPal payment of {amount} rejected?",
        ]),
        ("membership renewal", CONFUSABLE_WEIGHT, [  # reads like account
            "Please close my premium membership on my account, I do not want it anymore.",
            "My account still shows the plus membership although I asked you to remove it.",
            "How do I delete the premium plan from my account profile?",
            "I signed in and my profile says my plus subscription renewed, please remove it.",
            "Can you take the yearly plan off my account? I only wanted the trial.",
            "My login shows a premium tier I never chose, please downgrade my account.",
            "I changed my email but the membership on my old account renewed anyway.",
            "Please turn off auto-renew for the subscription on my user account.",
        ]),
    ],
    "returns": [
        ("send back", 3, [
            "I would like to return the {product}, it is not what I expected.",
            "How do I send back my {product}? I have the original box.",
            "I want to return order {order} within the {days} day return window.",
            "Can you email me a return label for the {product}?",
        ]),
        ("exchange", 2, [
            "Can I exchange the {product} for the same model in black?",
            "I want to swap my {product} for the bigger version, is that possible?",
            "Please exchange the {product} I bought for a different colour.",
        ]),
        ("return status", 2, [
            "I sent the {product} back {days} days ago, when will my return be processed?",
            "Has my returned {product} arrived at your warehouse yet?",
            "You received my return two weeks ago but I have not heard anything.",
        ]),
        ("damaged in transit", CONFUSABLE_WEIGHT, [  # reads like shipping
            "The courier says order {order} was delivered but the parcel was crushed.",
            "The tracking for my {product} says delivered, the box came wet and dented.",
            "The delivery driver left the parcel with my {product} in the rain.",
            "My parcel was shipped {days} days ago and arrived torn open, the {product} scratched.",
            "The courier dropped the package and the {product} inside rattles now.",
            "Order {order} was delivered to my door with a broken seal and a cracked {product}.",
            "The parcel spent {days} days in transit and the {product} arrived bent.",
            "Delivery came today, the box was squashed and the {product} is in pieces.",
        ]),
    ],
    "shipping": [
        ("where is my parcel", 3, [
            "Where is my parcel? Order {order} was shipped {days} days ago.",
            "The tracking number for my {product} has not updated for {days} days.",
            "My order {order} still says preparing for dispatch, when will it ship?",
            "The courier says the parcel was delivered but I never got it.",
        ]),
        ("delivery address", 2, [
            "Can I change the delivery address for order {order}? I am moving next week.",
            "I entered the wrong street number for the delivery of my {product}.",
            "Please deliver my parcel to the pickup point instead of my home.",
        ]),
        ("delivery options", 2, [
            "Do you ship to Norway, and how long does delivery take?",
            "Can I choose a delivery time slot for my {product}?",
            "Is next-day delivery available for the {product}?",
        ]),
        ("late express fee", CONFUSABLE_WEIGHT, [  # reads like billing
            "Please refund the {amount} payment for the express option on order {order}.",
            "My card was debited {amount} for next-day delivery, please refund the payment.",
            "There is a {amount} charge on my bank statement for express delivery.",
            "I need a refund for the {amount} express delivery charge on my card.",
            "The invoice for order {order} shows {amount} for express delivery, refund it.",
            "Why was my card charged {amount} for express delivery? Please refund it.",
            "Refund the {amount} express payment, my credit card was charged for nothing.",
            "My PayPal payment of {amount} for express delivery should be refunded.",
        ]),
    ],
    "technical": [
        ("does not turn on", 3, [
            "My {product} does not turn on anymore, even after charging it overnight.",
            "The {product} shows a black screen and the power light blinks red.",
            "After {days} days of use the {product} will not boot.",
        ]),
        ("connectivity", 3, [
            "The {product} will not connect to my wifi network.",
            "Bluetooth pairing between my {product} and my laptop keeps failing.",
            "The {product} drops the connection every few minutes.",
            "My {product} is not recognised when I plug it in over USB.",
        ]),
        ("software update", 2, [
            "The firmware update on my {product} failed halfway and now it is stuck.",
            "Since the last software update the {product} battery drains very fast.",
            "How do I install the latest driver for the {product}?",
        ]),
        ("app crash at payment", CONFUSABLE_WEIGHT, [  # reads like billing
            "My credit card payment fails because the app crashes at checkout.",
            "The payment page for my {product} order freezes before my card is charged.",
            "Why does the app close when I pay {amount} with PayPal?",
            "The checkout button does nothing and my card is never debited.",
            "Every time I enter my card number the site shows a blank page.",
            "The app restarts itself when I confirm the {amount} payment.",
            "The invoice page loads forever and I cannot pay for order {order}.",
            "Paying by card gives an internal server error in your app.",
        ]),
    ],
}


def build_demo_frame(rows: int = TRAIN_ROWS + TEST_ROWS, *, seed: int = SEED) -> pd.DataFrame:
    """``rows`` distinct tickets with columns text, label, subtopic (shuffled)."""
    rng = random.Random(seed)
    labels = sorted(TOPICS)
    records: list[dict[str, str]] = []
    seen: set[str] = set()
    while len(records) < rows:
        label = labels[len(records) % len(labels)]
        subtopics = TOPICS[label]
        name, _, templates = rng.choices(subtopics, weights=[w for _, w, _ in subtopics])[0]
        text = _fill(rng.choice(templates), rng)
        if text not in seen:
            seen.add(text)
            records.append({"text": text, "label": label, "subtopic": name})
    rng.shuffle(records)
    return pd.DataFrame.from_records(records)


def pocket_rows(per_pocket: int, exclude: set[str], *, seed: int = SEED + 1) -> pd.DataFrame:
    """``per_pocket`` distinct tickets of each class's pocket (its last sub-topic), none of
    them in ``exclude``; columns text, label, subtopic."""
    rng = random.Random(seed)
    records: list[dict[str, str]] = []
    seen = set(exclude)
    for label in sorted(TOPICS):
        name, _, templates = TOPICS[label][-1]
        drawn = 0
        while drawn < per_pocket:
            text = _fill(rng.choice(templates), rng)
            if text not in seen:
                seen.add(text)
                records.append({"text": text, "label": label, "subtopic": name})
                drawn += 1
    return pd.DataFrame.from_records(records)


def write_demo_files(directory: Path = DEMO_DIR) -> None:
    """Write ``train.csv`` (10,000 rows) and ``test.csv`` (1,000 rows drawn alike and
    ``POCKET_TEST_ROWS`` more of each pocket, shuffled)."""
    frame = build_demo_frame()
    directory.mkdir(parents=True, exist_ok=True)
    frame.iloc[:TRAIN_ROWS].to_csv(directory / "train.csv", index=False)
    pockets = pocket_rows(POCKET_TEST_ROWS, set(frame["text"]))
    test = pd.concat([frame.iloc[TRAIN_ROWS:], pockets], ignore_index=True)
    test.sample(frac=1.0, random_state=SEED).to_csv(directory / "test.csv", index=False)


def load_demo() -> tuple[TextDataset, TextDataset]:
    """The demo's (train, test) datasets."""
    train_frame = pd.read_csv(DEMO_DIR / "train.csv", dtype=str, keep_default_na=False)
    test_frame = pd.read_csv(DEMO_DIR / "test.csv", dtype=str, keep_default_na=False)
    train = dataset_from_frame(train_frame, source="demo:train")
    test = dataset_from_frame(test_frame, source="demo:test", label_names=train.label_names)
    return train, test


def _fill(template: str, rng: random.Random) -> str:
    closer = rng.choice(CLOSERS).replace("{name}", rng.choice(NAMES))
    body = template.format(
        product=rng.choice(PRODUCTS),
        order=f"#{rng.randint(10000, 99999)}",
        days=rng.randint(2, 14),
        amount=f"${rng.randint(5, 400)}.{rng.randint(0, 99):02d}",
    )
    opener = rng.choice(OPENERS)
    if opener:
        body = body[0].lower() + body[1:] if not body.startswith("I ") else body
    return f"{opener}{body}{closer}"


if __name__ == "__main__":
    write_demo_files()
    print(f"wrote {DEMO_DIR / 'train.csv'} and {DEMO_DIR / 'test.csv'}")
