"""Demo franchises and users (DESIGN.md "Operator commands")."""

from accounts.models import User
from accounts.services import save_franchise, save_user

FRANCHISES = [("centro", "Franquicia Centro"), ("norte", "Franquicia Norte")]
USERS = [
    # username, role, franchise code, first name, last name
    ("franquiciado1", User.Role.FRANCHISEE, "centro", "Lucía", "Martín"),
    ("franquiciado2", User.Role.FRANCHISEE, "norte", "Javier", "Ruiz"),
    ("agente1", User.Role.AGENT, None, "Ana", "García"),
    ("agente2", User.Role.AGENT, None, "Pablo", "López"),
    ("supervisor", User.Role.SUPERVISOR, None, "Marta", "Sánchez"),
]


def seed(*, password: str, stdout) -> list[tuple[str, str]]:
    """Create the demo franchises and users; returns (username, role) of each login."""
    franchises = {code: save_franchise(code=code, name=name)[0] for code, name in FRANCHISES}
    logins = []
    for username, role, code, first, last in USERS:
        save_user(
            username=username,
            role=role,
            franchise=franchises.get(code),
            password=password,
            first_name=first,
            last_name=last,
            email=f"{username}@franquicias.example",
        )
        logins.append((username, role))
    return logins
