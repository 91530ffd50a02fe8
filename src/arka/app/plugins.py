"""The plugins rules may call, as the API and CLI show them, and direct calls for trying
a function outside a rule (`arka-cli plugin test`)."""

from __future__ import annotations

from typing import Any

from arka.base import values as V
from arka.base.errors import InputError, NotFound
from arka.engine.plugins import PluginSession
from arka.plugins import Catalog, Host, LocalHost, Manifest


def host_name(host: Host) -> str:
    if isinstance(host, LocalHost):
        return "local"
    return str(getattr(host, "target", "remote"))


class Plugins:
    def __init__(self, host: Host):
        self.host = host

    def catalog(self) -> Catalog:
        """The manifests rules compile against: those of the plugin host."""
        if isinstance(self.host, LocalHost):
            return self.host.catalog
        return Catalog(manifests=self.host.manifests())

    def _view(self, m: Manifest) -> dict[str, Any]:
        out = m.to_json()
        out["host"] = host_name(self.host)
        out["runs"] = ("in process" if m.trusted and isinstance(self.host, LocalHost) and
                       not self.host.isolate_all else "in worker processes")
        return out

    def list(self, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        cat = self.catalog()
        names = cat.names()
        items = [self._view(cat.manifests[n]) for n in names[(page - 1) * per_page:
                                                             page * per_page]]
        out: dict[str, Any] = {"items": items, "page": page, "per_page": per_page,
                               "total": len(names)}
        if cat.problems:
            out["problems"] = dict(sorted(cat.problems.items()))
        return out

    def get(self, name: str) -> dict[str, Any]:
        m = self.catalog().get(name)
        if m is None:
            raise NotFound(f"plugin {name!r} is not installed (GET /api/v1/plugins lists "
                           "the installed ones)")
        return self._view(m)

    def call(self, name: str, function: str, args: Any) -> dict[str, Any]:
        """One call outside a rule, checked and recorded as a rule's call would be."""
        m = self.catalog().get(name)
        if m is None:
            raise NotFound(f"plugin {name!r} is not installed")
        exp = m.export(function)
        if exp is None:
            raise InputError(f"plugin {name} {m.version} has no function {function!r}; it "
                             f"exports {', '.join(e.name for e in m.exports)}")
        if not isinstance(args, dict):
            raise InputError("args must be a JSON object of parameter name to value")
        unknown = sorted(set(args) - {p.name for p in exp.params})
        if unknown:
            raise InputError(f"{exp.qualified}() has no parameter {unknown[0]!r}: "
                             f"{exp.signature()}")
        missing = [p.name for p in exp.params if not p.optional and p.name not in args]
        if missing:
            raise InputError(f"{exp.qualified}() is missing argument {missing[0]!r}: "
                             f"{exp.signature()}")
        values = V.from_json(args)
        order = [p.name for p in exp.params if p.name in values]
        spec = {"plugin": name, "version": m.version, "function": function, "args": order,
                "returns": exp.returns.to_json()}
        session = PluginSession(self.host)
        error = None
        try:
            session.call(spec, {k: values[k] for k in order})
        except Exception as exc:  # noqa: BLE001 - the record below says what failed
            error = exc
        (record,) = session.rule_calls
        if error is not None and "error" not in record:
            raise error
        return record
