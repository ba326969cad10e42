"""Demo data shared by ``seed_demo`` and ``seed_tickets``: categories and sample text,
and for ``seed_demo`` the demo people, teams, canned responses and the words of the
demo desk's three months of history (``tickets.demo_history`` writes it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

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


#: The demo people by username, as accounts' ``seed_demo`` creates them (``DEMO_USERS`` and
#: ``HISTORY_USERS`` there): tickets knows them only once accounts' events have filled the
#: directory, and ``seed_demo --wait`` waits for all of them.
DEMO_TECHNICIANS: Final = ("tecnico1", "tecnico2", "tecnico3", "tecnico4")
DEMO_CLIENTS: Final = (
    "cliente1",
    "cliente2",
    "cliente3",
    "pablo.garcia",
    "laura.fernandez",
    "sergio.moreno",
    "elena.jimenez",
    "david.alonso",
    "marta.gil",
    "emma.wilson",
    "raul.castro",
    "isabel.vega",
    "tom.baker",
    "nuria.serrano",
    "alberto.molina",
)
DEMO_ADMIN: Final = "admin"
DEMO_PEOPLE: Final = (DEMO_ADMIN, *DEMO_TECHNICIANS, *DEMO_CLIENTS)
#: The demo clients who write in English (their accounts' language).
ENGLISH_CLIENTS: Final = frozenset({"cliente2", "emma.wilson", "tom.baker"})

#: What each demo team's escalation rule does at a breach: (raise priority, to the lead).
ESCALATIONS: Final = {
    "Soporte de campo": (True, False),
    "Aplicaciones y accesos": (False, True),
}

#: name, assignment rule, category slugs, members (usernames, the lead first): how a
#: small help desk splits its queue.
TEAMS: Final = (
    (
        "Soporte de campo",
        Assignment.ROUND_ROBIN,
        ("hardware", "network"),
        ("tecnico1", "tecnico3", "tecnico2"),
    ),
    (
        "Aplicaciones y accesos",
        Assignment.LEAST_OPEN,
        ("software", "access"),
        ("tecnico2", "tecnico4", "tecnico1"),
    ),
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
    """Create the demo teams that are missing, with their demo members among
    ``technicians`` (the first one named leads), else all of ``technicians`` (the first
    one leads); returns how many were created. Categories already routed stay put."""
    created = 0
    by_username = {user.username: user.pk for user in technicians}
    for name, assignment, slugs, usernames in TEAMS:
        if Team.objects.filter(name=name).exists():
            continue
        member_ids = [by_username[username] for username in usernames if username in by_username]
        if len(member_ids) < 2:
            member_ids = [user.pk for user in technicians]
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


# --- the words of the demo desk's history (tickets.demo_history) ---------------------


class Story(NamedTuple):
    """One kind of problem clients write about: what they say, how it is tagged and the
    reply that solves it."""

    category: str
    title: str
    description: str
    tags: tuple[str, ...]
    solution: str


STORIES_ES: Final = (
    Story(
        "hardware",
        "La impresora de la planta 3 no imprime",
        "Sale el error E-42 y la hoja se queda atascada desde esta mañana.",
        ("impresora",),
        "Hemos cambiado el rodillo de arrastre y limpiado la bandeja: ya imprime.",
    ),
    Story(
        "hardware",
        "El portátil no arranca",
        "Se queda en la pantalla negra con el logo y no pasa de ahí.",
        ("portatil",),
        "Era la batería: la hemos cambiado y el equipo arranca con normalidad.",
    ),
    Story(
        "hardware",
        "El monitor parpadea",
        "El monitor externo parpadea cada pocos segundos y se apaga solo.",
        ("monitor",),
        "Hemos cambiado el cable DisplayPort, que estaba dañado.",
    ),
    Story(
        "hardware",
        "Necesito un teclado nuevo",
        "Varias teclas de mi teclado no responden (la E y la R).",
        ("material",),
        "Te hemos dejado un teclado nuevo en tu puesto.",
    ),
    Story(
        "hardware",
        "El lector de tarjetas de la entrada no me reconoce",
        "Desde ayer mi tarjeta no abre la puerta de la oficina.",
        ("acceso-fisico",),
        "Hemos vuelto a grabar la tarjeta; pruébala de nuevo en la entrada.",
    ),
    Story(
        "network",
        "No hay Wi-Fi en la sala de reuniones",
        "En la sala Atlántico no aparece la red corporativa desde el lunes.",
        ("wifi",),
        "El punto de acceso de la sala estaba caído: lo hemos reiniciado y sustituido.",
    ),
    Story(
        "network",
        "La VPN se desconecta cada pocos minutos",
        "Trabajando desde casa la VPN se cae cada 5-10 minutos.",
        ("vpn",),
        "Hemos actualizado el cliente VPN y cambiado tu perfil al servidor de Madrid.",
    ),
    Story(
        "network",
        "Internet va muy lento en Contabilidad",
        "Las páginas tardan más de un minuto en cargar en todo el departamento.",
        ("red-lenta",),
        "Un equipo estaba saturando el enlace con copias de seguridad; ya está corregido.",
    ),
    Story(
        "software",
        "Outlook se cierra al abrir un adjunto",
        "Cada vez que abro un PDF adjunto Outlook se cierra sin avisar.",
        ("correo", "office"),
        "Hemos reparado la instalación de Office y desactivado un complemento dañado.",
    ),
    Story(
        "software",
        "Necesito licencia de Visio",
        "Para el proyecto nuevo necesito Visio instalado en mi equipo.",
        ("licencias",),
        "Licencia asignada e instalación hecha; reinicia la sesión para verla.",
    ),
    Story(
        "software",
        "Excel no abre los ficheros de la carpeta compartida",
        "Dice que el fichero está bloqueado por otro usuario, pero nadie lo tiene abierto.",
        ("office",),
        "Quedaba un bloqueo huérfano en el servidor de ficheros; lo hemos liberado.",
    ),
    Story(
        "software",
        "Error al fichar en el portal del empleado",
        "Al fichar la entrada el portal da un error 500.",
        ("portal",),
        "El proveedor ha corregido el fallo del portal; tus fichajes están registrados.",
    ),
    Story(
        "software",
        "Actualización de Windows pendiente que no termina",
        "Lleva tres días pidiendo reiniciar y la actualización vuelve a fallar.",
        ("windows",),
        "Hemos limpiado la caché de actualizaciones y la hemos instalado a mano.",
    ),
    Story(
        "access",
        "No puedo acceder a la carpeta compartida de Finanzas",
        "Me aparece 'acceso denegado' al abrir \\\\files\\finanzas.",
        ("permisos",),
        "Te hemos añadido al grupo de Finanzas; cierra sesión y vuelve a entrar.",
    ),
    Story(
        "access",
        "Contraseña caducada y no puedo cambiarla",
        "Al cambiar la contraseña me dice que no cumple la política, pero sí la cumple.",
        ("contrasena",),
        "La política pedía no repetir las últimas 10; hemos restablecido la contraseña.",
    ),
    Story(
        "access",
        "Alta de un empleado nuevo",
        "El lunes se incorpora una persona a mi equipo y necesita cuenta y correo.",
        ("onboarding",),
        "Cuenta, correo y accesos creados; la contraseña inicial va en sobre cerrado.",
    ),
    Story(
        "access",
        "Cuenta bloqueada tras varios intentos",
        "Me he equivocado varias veces al entrar y ahora la cuenta está bloqueada.",
        ("contrasena",),
        "Cuenta desbloqueada; el bloqueo venía del móvil con la contraseña antigua.",
    ),
    Story(
        "other",
        "Mover mi puesto a la planta 2",
        "Me cambio de departamento y necesito el equipo y el teléfono en la planta 2.",
        ("traslado",),
        "Puesto trasladado: equipo, teléfono y red funcionando en la planta 2.",
    ),
    Story(
        "other",
        "Solicitud de un segundo monitor",
        "Para trabajar con planos me vendría muy bien un segundo monitor.",
        ("material",),
        "Aprobado por tu responsable: el segundo monitor ya está instalado.",
    ),
)

STORIES_EN: Final = (
    Story(
        "network",
        "VPN disconnects every few minutes",
        "Since yesterday the VPN drops every 5-10 minutes when working from home.",
        ("vpn",),
        "We updated the VPN client and moved your profile to the Madrid gateway.",
    ),
    Story(
        "software",
        "Teams crashes when sharing my screen",
        "Teams closes as soon as I start sharing my screen in a meeting.",
        ("teams",),
        "We reinstalled Teams and updated the graphics driver; sharing works again.",
    ),
    Story(
        "access",
        "I cannot sign in to the CRM",
        "The CRM says my user does not exist since this morning.",
        ("permisos",),
        "Your CRM user had been disabled by mistake; it is active again.",
    ),
    Story(
        "hardware",
        "My laptop is very slow",
        "It takes ten minutes to start and every program freezes.",
        ("portatil",),
        "We replaced the disk with an SSD and restored your profile.",
    ),
    Story(
        "software",
        "Excel keeps freezing with large files",
        "Any file over 20 MB freezes Excel for minutes.",
        ("office",),
        "We installed 64-bit Office, which handles large files much better.",
    ),
    Story(
        "other",
        "New phone for a visiting colleague",
        "A colleague from London joins us for two weeks and needs a desk phone.",
        ("material",),
        "The phone is set up at desk 2.14 with extension 2214.",
    ),
)

#: Staff's first public replies ({name}: the client's first name).
FIRST_REPLIES: Final = {
    "es": (
        "Hola {name}, lo estamos revisando y te contamos en cuanto sepamos más.",
        "Hola {name}, gracias por avisar. Me pongo con ello ahora mismo.",
        "Hola {name}, ya tenemos tu solicitud; la atendemos esta mañana.",
        "Buenas {name}, recibido. Voy a conectarme en remoto para verlo.",
    ),
    "en": (
        "Hi {name}, we are looking into it and will get back to you shortly.",
        "Hi {name}, thanks for letting us know. I am on it.",
        "Hello {name}, got it: I will connect remotely to take a look.",
    ),
}
#: Staff asking for what they need (the ticket then waits on the client).
QUESTIONS: Final = {
    "es": (
        "¿Puedes enviarnos una captura del error y decirnos desde cuándo ocurre?",
        "¿Nos indicas el número de inventario del equipo (la pegatina de la parte de abajo)?",
        "¿A qué hora te viene bien que nos conectemos en remoto?",
    ),
    "en": (
        "Could you send us a screenshot of the error and tell us since when it happens?",
        "Which time suits you for a remote session?",
    ),
}
#: Clients answering those questions.
ANSWERS: Final = {
    "es": (
        "Adjunto la captura. Ocurre desde el lunes.",
        "El número es PC-0412.",
        "Cuando queráis a partir de las 11.",
    ),
    "en": (
        "Screenshot attached; it started on Monday.",
        "Any time after 11 works for me.",
    ),
}
#: Clients asking how it is going.
NUDGES: Final = {
    "es": (
        "¿Hay alguna novedad? Lo necesito para esta semana.",
        "Sigue pasando, ¿sabéis algo?",
        "Gracias, quedo a la espera.",
    ),
    "en": ("Any news on this? I need it this week.", "Thanks, waiting for your update."),
}
#: Clients saying the problem came back (the ticket reopens).
RELAPSES: Final = {
    "es": ("Ha vuelto a pasar esta mañana, ¿podéis mirarlo otra vez?",),
    "en": ("It happened again this morning, could you take another look?",),
}
#: Staff's internal notes (never shown to clients).
NOTES: Final = (
    "Revisado el registro de eventos: errores de disco desde hace una semana.",
    "Cliente VIP: priorizar y avisar a su responsable cuando esté resuelto.",
    "Parece el mismo problema que tuvimos en Contabilidad el mes pasado.",
    "Pedido el repuesto al proveedor, llega en 48 h.",
    "Consultado con sistemas: hay un cambio programado esta noche que lo arregla.",
    "Checked the logs: the certificate on the gateway expired on Friday.",
)
#: Clients' comments with their rating.
GOOD_REMARKS: Final = (
    "¡Muy rápidos, gracias!",
    "Todo perfecto, muchas gracias.",
    "Great service, thanks!",
    "",
    "",
)
BAD_REMARKS: Final = (
    "Ha tardado demasiado, he perdido un día de trabajo.",
    "Nadie me avisó de que estaba resuelto y el problema sigue.",
    "Took far too long.",
    "",
)
