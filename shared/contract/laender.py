"""The states by Landesschlüssel, the first two digits of every amtlicher Gemeindeschlüssel."""

LAENDER: dict[str, str] = {
    "01": "Schleswig-Holstein",
    "02": "Hamburg",
    "03": "Niedersachsen",
    "04": "Bremen",
    "05": "Nordrhein-Westfalen",
    "06": "Hessen",
    "07": "Rheinland-Pfalz",
    "08": "Baden-Württemberg",
    "09": "Bayern",
    "10": "Saarland",
    "11": "Berlin",
    "12": "Brandenburg",
    "13": "Mecklenburg-Vorpommern",
    "14": "Sachsen",
    "15": "Sachsen-Anhalt",
    "16": "Thüringen",
}


def land_of(gemeindeschluessel: str) -> str | None:
    """The Landesschlüssel of an AGS (or of a Kreis or Land prefix), None if there is none."""
    code = gemeindeschluessel[:2]
    return code if code in LAENDER and gemeindeschluessel.isdigit() else None
