"""Domain synonyms of a franchise shop's support vocabulary (Spanish, colloquial, English).

Each group lists words people use for the same thing. A query word that belongs to a group is
also searched, with a lower weight, under the group's other words. Keep the list small and
generic: words of the trade, never phrasings of particular questions or articles.
"""

from __future__ import annotations

from functools import lru_cache

from knowledge_base.analysis import fold, word_forms

SYNONYM_WEIGHT = 0.5

GROUPS: list[list[str]] = [
    ["tpv", "caja", "terminal", "pos", "till", "caja registradora"],
    ["datáfono", "tarjetero", "pinpad", "terminal de tarjetas", "card terminal", "maquinita"],
    ["contraseña", "clave", "password"],
    ["pin", "código"],
    ["cajón", "gaveta", "portamonedas", "drawer"],
    ["efectivo", "metálico", "cash", "billetes"],
    ["ticket", "tiquet", "recibo", "receipt", "comprobante"],
    ["impresora", "printer"],
    ["escáner", "lector", "pistola", "scanner"],
    ["etiqueta", "cartel", "label"],
    ["lineal", "estantería", "balda", "shelf"],
    ["factura", "invoice"],
    ["devolución", "devolver", "reembolso", "refund"],
    ["wifi", "wi-fi", "red inalámbrica"],
    ["internet", "red", "conexión", "línea", "fibra"],
    ["móvil", "teléfono", "celular", "phone"],
    ["pedido", "encargo", "order"],
    ["mercancía", "género", "existencias", "stock"],
    ["inventario", "recuento"],
    ["merma", "rotura", "roto"],
    ["empleado", "trabajador", "cajero", "dependiente", "staff"],
    ["nómina", "payslip", "sueldo"],
    ["turno", "shift", "horario", "cuadrante", "schedule"],
    ["cámara", "videovigilancia", "grabación", "imágenes", "camera"],
    ["reparto", "delivery", "glovo", "uber eats", "just eat"],
    ["fidelización", "club", "puntos", "loyalty"],
    ["promoción", "oferta", "descuento"],
    ["euros", "pavos", "dinero"],
    ["lento", "tarda", "lentitud", "slow"],
    ["anular", "cancelar", "deshacer"],
    ["bloqueada", "bloqueo", "locked"],
    ["contactless", "sin contacto", "nfc", "tap"],
    ["reiniciar", "reinicia", "restart", "reboot"],
    ["encender", "enciende", "arranca", "arrancar"],
    ["apagar", "apaga"],
    ["camión", "transportista", "reparto"],
]


@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[int, ...]]:
    """Every folded word and stem of a group member -> the groups it belongs to."""
    index: dict[str, set[int]] = {}
    for number, group in enumerate(GROUPS):
        for member in group:
            keys = {fold(member)} if " " in member else {fold(member), *word_forms(member.lower())}
            for key in keys:
                index.setdefault(key, set()).add(number)
    return {key: tuple(sorted(groups)) for key, groups in index.items()}


def synonyms_of(word: str) -> list[str]:
    """Other words of the groups this word belongs to (matched by spelling or by stem)."""
    index = _index()
    groups: set[int] = set(index.get(fold(word), ()))
    for form in word_forms(word.lower()):
        groups.update(index.get(form, ()))
    own = fold(word)
    out: dict[str, None] = {}
    for number in sorted(groups):
        for member in GROUPS[number]:
            if fold(member) != own:
                out[member] = None
    return list(out)
