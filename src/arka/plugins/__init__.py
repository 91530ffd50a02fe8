"""Plugins: functions and data sources rules reach as `plugin.<name>.<function>(args)`.

The SDK a plugin is written with (`Plugin`, `export`, `Permissions`), the manifests the
type checker reads (`Catalog`, `discover`), and the hosts calls run in (`LocalHost`;
the gRPC host is `arka.rpc.plugins`). docs/plugins.md is the guide.
"""

from arka.plugins.host import ENTRY_POINT_GROUP, Call, Host, LocalHost, Reply, discover
from arka.plugins.sdk import (
    Catalog,
    Export,
    Manifest,
    ManifestError,
    Param,
    Permissions,
    Plugin,
    PluginError,
    export,
    parse_type,
)

__all__ = ["ENTRY_POINT_GROUP", "Call", "Catalog", "Export", "Host", "LocalHost", "Manifest",
           "ManifestError", "Param", "Permissions", "Plugin", "PluginError", "Reply",
           "discover", "export", "parse_type"]
