"""The technical and organisational measures a body that retrieves from the
Melderegisterdatenspiegel must take (§ 39 Abs. 1 BMG with Art. 24, 25, 32 DSGVO), in one place:
legal_review checks an application's declared measures against them, and the Informationsblatt
that goes with every approval (seed: "ein Informationsblatt ..., das wesentliche technische
Anforderungen zur Sicherheit des Abrufes enthält") states them."""

from __future__ import annotations

# § 39 Abs. 1 BMG with Art. 24, 25, 32 DSGVO: what the declared measures must cover. A category
# counts as addressed when the declaration names one of its terms (lower case, umlauts as written).
SICHERHEITSANFORDERUNGEN: dict[str, tuple[str, tuple[str, ...]]] = {
    "zugriffsberechtigung": (
        "dass nur befugte Personen abrufen können (Berechtigungs- oder Rollenkonzept)",
        (
            "berechtigung",
            "rechtekonzept",
            "rollenkonzept",
            "zugriffsrecht",
            "befugt",
            "autorisiert",
            "zugriff nur",
            "nur berechtigte",
        ),
    ),
    "authentisierung": (
        "wie sich die abrufenden Personen authentisieren (persönliche Kennung, Passwort, "
        "Zertifikat)",
        (
            "kennung",
            "passwort",
            "kennwort",
            "authentifizierung",
            "authentisierung",
            "anmeldung",
            "zertifikat",
            "zwei-faktor",
            "2fa",
            "smartcard",
        ),
    ),
    "uebertragung": (
        "wie die Übertragung gesichert ist (Landesnetz, DOI-Netz, Verschlüsselung)",
        ("landesnetz", "doi", "verschlüssel", "tls", "vpn", "verbindungsnetz"),
    ),
}

# what the Informationsblatt says beyond the declared measures, each with its source
HINWEISE: tuple[tuple[str, str], ...] = (
    (
        "Der Abruf erfolgt ausschließlich über das Landesnetz oder das DOI-Netz; andere Zugänge "
        "bedürfen einer Einzelfallentscheidung.",
        "§ 2 NMeldVO, § 39 Abs. 3 BMG",
    ),
    (
        "Jede abrufende Person hat eine persönliche Kennung; das Initialpasswort kommt per Post "
        "und ist bei der ersten Anmeldung zu ändern. Kennungen werden nicht weitergegeben.",
        "§ 39 Abs. 1 BMG, Art. 32 DSGVO",
    ),
    (
        "Jeder Abruf wird mit Anlass, Aktenzeichen und Kennung protokolliert; die Protokolle "
        "dienen der Datenschutzkontrolle.",
        "§ 40 BMG",
    ),
    (
        "Daten dürfen nur zur Erfüllung der eigenen Aufgaben abgerufen und genutzt werden.",
        "§ 34 Abs. 1, § 34a BMG",
    ),
    (
        "Bei festgestellten Sicherheitsmängeln kann der Zugang eingeschränkt werden, bis der "
        "Mangel behoben ist.",
        "Zulassungsverfahren des Betreibers",
    ),
)
