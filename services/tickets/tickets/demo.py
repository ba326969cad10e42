"""Demo data shared by ``seed_demo`` and ``seed_tickets``: categories and sample text."""

from __future__ import annotations

from typing import Final

from tickets.models import DEFAULT_SLA_HOURS, Category, SlaTarget

#: slug, name (Spanish first, like the UI), description
CATEGORIES: Final = (
    ("hardware", "Hardware", "Ordenadores, impresoras, periféricos / computers, printers"),
    ("software", "Software", "Aplicaciones y licencias / applications and licences"),
    ("network", "Red", "Conexión, Wi-Fi, VPN / connectivity"),
    ("access", "Cuentas y accesos", "Contraseñas, permisos / passwords, permissions"),
    ("other", "Otros", "Todo lo demás / everything else"),
)

#: (title, description, category slug) for the demo tickets of each client.
DEMO_TICKETS: Final = (
    (
        "La impresora de la planta 3 no imprime",
        "Sale el error E-42 y la hoja se queda atascada desde esta mañana.",
        "hardware",
    ),
    (
        "VPN disconnects every few minutes",
        "Since yesterday the VPN drops every 5-10 minutes when working from home.",
        "network",
    ),
    (
        "No puedo acceder a la carpeta compartida de Finanzas",
        "Me aparece 'acceso denegado' al abrir \\\\files\\finanzas.",
        "access",
    ),
)


def ensure_categories() -> int:
    """Create the demo categories that are missing; returns how many were created."""
    created = 0
    for slug, name, description in CATEGORIES:
        _category, was_created = Category.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )
        created += int(was_created)
    return created


def ensure_sla_targets() -> int:
    """Write the default targets as rows (so admins see and edit them); keeps existing ones."""
    created = 0
    for priority, (first_response, resolution) in DEFAULT_SLA_HOURS.items():
        _target, was_created = SlaTarget.objects.get_or_create(
            priority=priority,
            defaults={"first_response_hours": first_response, "resolution_hours": resolution},
        )
        created += int(was_created)
    return created
