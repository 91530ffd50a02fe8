"""ARKA Engine: compliance rules compiled to bytecode for a deterministic VM.

Public API (small on purpose):

    import arka
    schemas = arka.load_schemas(["schemas/"])           # named schemas (type: Transaction)
    rule = arka.compile_rule(yaml_text, "ctr.yaml", schemas=schemas)  # raises CompileError
    rules = arka.RuleSet([rule], tables=arka.load_tables(["tables/"]))
    result = rules.evaluate({"transaction": {...}}, context={"jurisdiction": "US"})
    result.to_json()                  # JSON text; result.to_dict(): the same as data
"""

from arka.base.errors import ArkaError, CompileError, Diagnostic, EvalError, InputError
from arka.compiler import CompiledRule, check_source, compile_file, compile_rule, load_bytecode
from arka.engine import EvaluationResult, RuleSet, evaluate, load_rules
from arka.engine.expression import CompiledExpression, compile_expression
from arka.rtvm.vm import Limits
from arka.rules.schemas import Schema, SchemaSet, load_schemas, parse_schema
from arka.rules.tables import TableSet, load_tables
from arka.version import __version__

__all__ = [
    "ArkaError", "CompileError", "CompiledExpression", "CompiledRule", "Diagnostic", "EvalError", "EvaluationResult",
    "InputError", "Limits", "RuleSet", "Schema", "SchemaSet", "TableSet", "__version__", "check_source", "compile_expression", "compile_file",
    "compile_rule", "evaluate", "load_bytecode", "load_rules", "load_schemas", "load_tables",
    "parse_schema",
]
