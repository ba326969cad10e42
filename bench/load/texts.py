"""What the load's people write: ticket titles, descriptions, replies and searches.

Spanish and English mixed, like the help desk's real traffic, so search and the
notifier's templates see both.
"""

from __future__ import annotations

import random
from typing import Final

PROBLEMS: Final = (
    ("La impresora de la planta {n} no imprime", "Sale el error E-{n} y se atasca el papel."),
    ("VPN disconnects every few minutes", "Working from home, the VPN drops every {n} minutes."),
    ("No puedo acceder a la carpeta de Finanzas", "Me aparece 'acceso denegado' desde el lunes."),
    ("Outlook is very slow", "Opening a message takes {n} seconds; the inbox has 4 GB."),
    ("Pantalla azul al arrancar", "El portátil muestra 0x{n:04X} y se reinicia."),
    ("Password expired, cannot log in", "My password expired and the reset mail never came."),
    ("El teléfono de recepción no da tono", "La extensión {n} no tiene línea desde ayer."),
    ("Need Excel licence for new hire", "Ana starts on Monday and needs Office (seat {n})."),
    ("Wi-Fi de la sala de reuniones muy lenta", "Las videollamadas se cortan en la sala {n}."),
    ("Monitor flickers", "The second monitor flickers every {n} seconds on the dock."),
)

REPLIES: Final = (
    "¿Puedes probar a reiniciar el equipo y decirme si sigue pasando?",
    "I have reset the profile; please sign out and in again.",
    "Sigue igual, acabo de probarlo otra vez.",
    "Thanks, it works now.",
    "Adjunto una captura del error en el siguiente mensaje.",
    "We are waiting for the part from the supplier, ETA two days.",
    "Ya está solucionado por mi parte, gracias.",
    "Could you tell me the asset tag of the laptop?",
)

INTERNAL_NOTES: Final = (
    "Parece el driver de la impresora; revisar GPO.",
    "Same issue as last week on floor 2, probably the switch.",
    "Escalar a sistemas si no se resuelve hoy.",
    "User is a VIP, keep them posted.",
)

#: Words technicians search for: common ones, rare ones, one that matches nothing.
SEARCHES: Final = (
    "impresora",
    "vpn",
    "outlook",
    "pantalla azul",
    "password",
    "teléfono",
    "licence",
    "wifi sala",
    "zzyzx",
)

PRIORITIES: Final = ("low", "medium", "medium", "medium", "high", "high", "urgent")


def new_ticket(rng: random.Random, categories: list[str]) -> dict[str, str]:
    title, description = rng.choice(PROBLEMS)
    number = rng.randint(1, 999)
    ticket = {
        "title": title.format(n=number),
        "description": description.format(n=number),
        "priority": rng.choice(PRIORITIES),
    }
    if categories:
        ticket["category"] = rng.choice(categories)
    return ticket
