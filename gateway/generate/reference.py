"""Reference data for synthetic traffic (DOMAIN.md sections 3 and 7): who trades with whom
and how much, what rough of each origin is worth, and who the companies are.

Companies and addresses are plausible, not a statement about any real firm's trade.
"""

from __future__ import annotations

from decimal import Decimal

#: 2023 KP average US dollars per carat by origin (DOMAIN.md section 3); ``WORLD`` prices
#: parcels of mixed origin. The example registry's bands are [0.4x, 2.5x] of these.
USD_PER_CARAT: dict[str, Decimal] = {
    "WORLD": Decimal(114),
    "RU": Decimal(97),
    "BW": Decimal(131),
    "CA": Decimal(97),
    "AO": Decimal(157),
    "ZA": Decimal(135),
    "ZW": Decimal(62),
    "SL": Decimal(194),
    "LS": Decimal(294),
    "NA": Decimal(517),
    "CD": Decimal(8),
}
WORLD = "WORLD"
#: Noise around the origin's average price: uniform in [1 - x, 1 + x].
PRICE_NOISE = Decimal("0.4")

#: Producing origins of goods re-exported by trading hubs, weighted by rough volume.
HUB_ORIGINS: tuple[tuple[str, int], ...] = (
    ("RU", 30),
    ("BW", 24),
    ("CA", 8),
    ("AO", 10),
    ("ZA", 8),
    ("CD", 8),
    ("NA", 4),
    ("ZW", 4),
    ("SL", 2),
    ("LS", 2),
)
#: Trading hubs whose re-exports are of mixed origin ~20% of the time (DOMAIN.md 7).
MIXED_ORIGIN_HUBS = frozenset({"EU", "AE", "IL", "IN"})
MIXED_ORIGIN_SHARE = 0.2

#: Relative traffic per enabled pair (exporter, importer); unlisted enabled pairs weigh 1.
PAIR_WEIGHTS: dict[tuple[str, str], int] = {
    ("RU", "EU"): 6,
    ("BW", "EU"): 4,
    ("BW", "AE"): 3,
    ("RU", "AE"): 3,
    ("RU", "IN"): 3,
    ("IN", "AE"): 3,
    ("AE", "IN"): 3,
    ("EU", "IN"): 4,
    ("ZA", "EU"): 2,
    ("CA", "EU"): 2,
    ("AO", "AE"): 2,
    ("AE", "EU"): 2,
    ("EU", "AE"): 2,
}

#: HS codes of a certificate's first line and their shares (DOMAIN.md 7); further lines
#: take the remaining codes in the same proportions.
HS_MIX: tuple[tuple[str, int], ...] = (("7102.31", 70), ("7102.21", 15), ("7102.10", 15))
#: How many HS lines a certificate has.
LINE_COUNTS: tuple[tuple[int, int], ...] = ((1, 70), (2, 22), (3, 8))

#: Carats per line: log-normal around this median, clipped (DOMAIN.md 7). sigma 2.2 gives
#: ~8,000 ct per certificate on average, close to the 2006 figure of ~8,700.
CARATS_MEDIAN = 500.0
CARATS_SIGMA = 2.2
CARATS_MIN = Decimal("0.5")
CARATS_MAX = Decimal(500_000)
MAX_PARCELS = 20

#: Which member state stands for the EU (the state of the authority), with weights.
EU_MEMBER_STATES: tuple[tuple[str, int], ...] = (("BE", 88), ("DE", 12))

#: Digits after the ISO prefix of each issuer's certificate numbers (6-9; default 7).
NUMBER_DIGITS: dict[str, int] = {
    "RU": 7,
    "BE": 6,
    "DE": 7,
    "BW": 6,
    "ZA": 8,
    "CA": 6,
    "AE": 9,
    "IN": 8,
    "IL": 6,
    "US": 8,
    "CN": 9,
    "AO": 7,
    "NA": 6,
    "SL": 7,
    "CD": 7,
    "BY": 7,
}
DEFAULT_NUMBER_DIGITS = 7

#: Plausible traders per country (member states for the EU).
COMPANIES: dict[str, tuple[str, ...]] = {
    "RU": (
        "ALROSA PJSC",
        "Gokhran of Russia",
        "ALROSA-Nyurba JSC",
        "Almazy Anabara JSC",
        "AGD Diamonds JSC",
    ),
    "BY": ("Kristall Gomel JSC", "Minsk Diamond Works OJSC", "Gokhran of Belarus"),
    "BW": (
        "Okavango Diamond Company (Pty) Ltd",
        "De Beers Global Sightholder Sales (Pty) Ltd",
        "Debswana Diamond Company (Pty) Ltd",
        "Lucara Botswana (Pty) Ltd",
    ),
    "ZA": (
        "Petra Diamonds SA (Pty) Ltd",
        "De Beers Consolidated Mines (Pty) Ltd",
        "Trans Hex Group Ltd",
    ),
    "CA": (
        "Arctic Canadian Diamond Company Ltd",
        "Diavik Diamond Mines (2012) Inc",
        "De Beers Canada Inc",
    ),
    "AO": ("SODIAM EP", "Sociedade Mineira de Catoca Lda", "Lulo Diamond Trading SA"),
    "NA": (
        "Namdeb Diamond Corporation (Pty) Ltd",
        "Namibia Diamond Trading Company (Pty) Ltd",
        "Debmarine Namibia (Pty) Ltd",
    ),
    "SL": ("Koidu Limited", "Sierra Leone Diamond Company Ltd", "Meya Mining Ltd"),
    "CD": (
        "Societe Miniere de Bakwanga SA",
        "Kasai Diamond Traders SARL",
        "Tshikapa Comptoir SARL",
    ),
    "ZW": ("Zimbabwe Consolidated Diamond Company", "Murowa Diamonds (Pvt) Ltd"),
    "LS": ("Letseng Diamonds (Pty) Ltd", "Liqhobong Mining Development Company"),
    "AE": (
        "Dubai Rough DMCC",
        "Emirates Diamond Trading FZE",
        "Al Mas Rough Trading DMCC",
        "Star Rays DMCC",
    ),
    "IN": (
        "Surat Rough Imports Pvt Ltd",
        "Mumbai Gems Pvt Ltd",
        "Shree Ramkrishna Exports Pvt Ltd",
        "Kiran Gems Pvt Ltd",
        "Hari Krishna Exports Pvt Ltd",
    ),
    "BE": (
        "Antwerp Rough Trading BV",
        "Diamond Land NV",
        "Rosy Blue NV",
        "Kapu Gems BVBA",
        "Pluczenik Diamond Company NV",
    ),
    "DE": (
        "Kaufmann Diamanten GmbH",
        "Idar-Oberstein Edelsteinhandel GmbH",
        "Frankfurt Rohdiamanten GmbH",
    ),
    "US": (
        "New York Rough LLC",
        "Manhattan Diamond Trading Corp",
        "Lazare Rough Inc",
    ),
    "IL": ("Ramat Gan Rough Ltd", "Lev Diamond Trading Ltd", "Yahalom Rough Imports Ltd"),
    "CN": (
        "Shanghai Diamond Exchange Trading Co Ltd",
        "Shenzhen Rough Gems Co Ltd",
        "Guangzhou Rough Diamond Co Ltd",
    ),
}
#: For a country without listed traders: "<name> ..." patterns.
GENERIC_COMPANIES = (
    "{name} Rough Diamond Trading Ltd",
    "{name} Gem Exports Ltd",
    "{name} Diamond Traders",
)

ADDRESSES: dict[str, str] = {
    "RU": "ul. Smolenskaya 3, 121099 Moscow",
    "BY": "ul. Sovetskaya 11, 220030 Minsk",
    "BW": "Plot 63, Fairgrounds Office Park, Gaborone",
    "ZA": "1 Diamond Road, Kimberley 8301",
    "CA": "5120 49th Street, Yellowknife NT X1A 1P8",
    "AO": "Rua Rainha Ginga 87, Luanda",
    "NA": "10 Dr Frans Indongo Street, Windhoek",
    "SL": "Wilkinson Road 44, Freetown",
    "CD": "Boulevard du 30 Juin, Kinshasa",
    "ZW": "Samora Machel Avenue 90, Harare",
    "LS": "Kingsway Road, Maseru",
    "AE": "Almas Tower, Jumeirah Lakes Towers, Dubai",
    "IN": "Bharat Diamond Bourse, Bandra Kurla Complex, Mumbai 400051",
    "BE": "Hoveniersstraat 22, 2018 Antwerpen",
    "DE": "Hauptstrasse 118, 55743 Idar-Oberstein",
    "US": "580 Fifth Avenue, New York NY 10036",
    "IL": "Jabotinsky Road 1, Ramat Gan 5252001",
    "CN": "Century Avenue 1701, Pudong, Shanghai",
}

CONFIRMATION_REMARKS: tuple[str | None, ...] = (
    None,
    None,
    "Seals intact",
    "Received in good order",
    "Parcels sealed and intact on arrival",
)
VOID_REASONS = (
    "Shipment cancelled by exporter",
    "Issued in error",
    "Replaced by a corrected certificate",
)
