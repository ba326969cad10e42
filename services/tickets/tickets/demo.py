"""Demo data shared by ``seed_demo`` and ``seed_tickets``: categories and sample text,
and for ``seed_demo`` the demo teams and canned responses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from tickets import calendars, teams
from tickets.models import (
    DEFAULT_SLA_HOURS,
    Assignment,
    BusinessCalendar,
    Category,
    DirectoryUser,
    Macro,
    SlaTarget,
    Team,
)

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
            team=None,
            defaults={"first_response_hours": first_response, "resolution_hours": resolution},
        )
        created += int(was_created)
    return created


#: Spain's national holidays, for the demo's office hours.
NATIONAL_HOLIDAYS: Final = (
    ("2026-01-01", "Año Nuevo"),
    ("2026-01-06", "Epifanía del Señor"),
    ("2026-04-03", "Viernes Santo"),
    ("2026-05-01", "Fiesta del Trabajo"),
    ("2026-08-15", "Asunción de la Virgen"),
    ("2026-10-12", "Fiesta Nacional de España"),
    ("2026-11-01", "Todos los Santos"),
    ("2026-12-06", "Día de la Constitución"),
    ("2026-12-08", "Inmaculada Concepción"),
    ("2026-12-25", "Navidad"),
    ("2027-01-01", "Año Nuevo"),
    ("2027-01-06", "Epifanía del Señor"),
    ("2027-03-26", "Viernes Santo"),
    ("2027-05-01", "Fiesta del Trabajo"),
    ("2027-08-15", "Asunción de la Virgen"),
    ("2027-10-12", "Fiesta Nacional de España"),
    ("2027-11-01", "Todos los Santos"),
    ("2027-12-06", "Día de la Constitución"),
    ("2027-12-08", "Inmaculada Concepción"),
    ("2027-12-25", "Navidad"),
)


def ensure_office_hours() -> bool:
    """Make the default calendar the demo's office hours (Monday to Friday, 9:00-18:00,
    Europe/Madrid, Spain's national holidays), unless an admin already changed it from
    the fresh install's around-the-clock one; True when it did."""
    default = BusinessCalendar.objects.filter(is_default=True).first()
    if default is not None and default.week != calendars.AROUND_THE_CLOCK_WEEK:
        return False
    holidays = [{"date": day, "name": name} for day, name in NATIONAL_HOLIDAYS]
    if default is None:
        calendars.calendar_create(
            name="Horario de oficina",
            time_zone="Europe/Madrid",
            week=calendars.OFFICE_WEEK,
            holidays=holidays,
            is_default=True,
        )
    else:
        calendars.calendar_update(
            calendar_id=default.pk,
            changes={
                "name": "Horario de oficina",
                "time_zone": "Europe/Madrid",
                "week": calendars.OFFICE_WEEK,
                "holidays": holidays,
            },
        )
    return True


#: What each demo team's escalation rule does at a breach: (raise priority, to the lead).
ESCALATIONS: Final = {
    "Soporte de campo": (True, False),
    "Aplicaciones y accesos": (False, True),
}

#: name, assignment rule, category slugs: how a small help desk splits its queue.
TEAMS: Final = (
    ("Soporte de campo", Assignment.ROUND_ROBIN, ("hardware", "network")),
    ("Aplicaciones y accesos", Assignment.LEAST_OPEN, ("software", "access")),
)

#: title, body, actions: the shared canned responses an admin would start with.
MACROS: Final = (
    (
        "Pedir más detalles",
        "Hola {cliente}:\n\nGracias por escribirnos sobre {numero}. Para avanzar, "
        "¿puedes indicarnos desde cuándo ocurre y enviarnos una captura del error?\n\n"
        "Un saludo,\n{tecnico}",
        {"status": "in_progress"},
    ),
    (
        "Resuelto: reinicio del equipo",
        "Hola {cliente}:\n\nHemos aplicado la solución en {numero}; reinicia el equipo "
        "y, si vuelve a ocurrir, responde a este mensaje y lo reabrimos.\n\n{tecnico}",
        {"status": "resolved", "add_tags": ["reinicio"]},
    ),
    (
        "Escalar a redes (nota interna)",
        "Escalado a redes: revisar la VPN y el DHCP de la planta. ({numero})",
        {"internal": True, "priority": "high", "add_tags": ["escalado"]},
    ),
)


def ensure_teams(technicians: Sequence[DirectoryUser]) -> int:
    """Create the demo teams that are missing, with ``technicians`` as members (the first
    one leads); returns how many were created. Categories already routed stay put."""
    created = 0
    member_ids = [user.pk for user in technicians]
    for name, assignment, slugs in TEAMS:
        if Team.objects.filter(name=name).exists():
            continue
        free = list(
            Category.objects.filter(slug__in=slugs, team__isnull=True).values_list(
                "slug", flat=True
            )
        )
        raise_priority, to_lead = ESCALATIONS.get(name, (False, False))
        teams.team_create(
            data=teams.TeamData(
                name=name,
                member_ids=member_ids,
                lead_id=member_ids[0] if member_ids else None,
                assignment=assignment,
                category_slugs=free,
                escalate_raise_priority=raise_priority,
                escalate_to_lead=to_lead,
            )
        )
        created += 1
    return created


def ensure_macros(owner: DirectoryUser) -> int:
    """Create the demo shared canned responses that are missing, owned by ``owner`` (an
    admin); returns how many were created."""
    created = 0
    for title, body, actions in MACROS:
        _macro, was_created = Macro.objects.get_or_create(
            title=title,
            shared=True,
            defaults={"body": body, "owner_id": owner.pk, "actions": actions},
        )
        created += int(was_created)
    return created
