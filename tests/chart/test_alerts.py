"""The chart's alerts (templates/monitoring/prometheusrule.yaml), rendered by the real helm and
evaluated by Prometheus' own rule engine: ``promtool check rules`` and ``promtool test rules``
(Debian's ``prometheus`` package; ``.ci/run`` installs it). ``ORDERFLOW_SKIP_PROMTOOL=1`` skips
the promtool checks on a machine without it, knowingly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from orderflow.execution.broker import OrderStatus
from tests.chart.exported import exported_series, orderflow_series
from tests.chart.rendering import NAMESPACE, by_kind, render

ON = ("--set", "metrics.prometheusRule.enabled=true")
LISTENER = f'job="of-orderflow-listener-metrics",namespace="{NAMESPACE}"'
EXECUTOR = f'job="of-orderflow-executor-metrics",namespace="{NAMESPACE}"'
CRONJOB = f'namespace="{NAMESPACE}",cronjob="of-orderflow-reputation"'
WARNED = f'orderflow_clob_rate_limit_warnings_total{{{EXECUTOR},tier="standard"}}'


def groups(*args: str) -> list[dict[str, Any]]:
    (rule,) = by_kind(render(*ON, *args), "PrometheusRule")
    found: list[dict[str, Any]] = rule["spec"]["groups"]
    return found


def alerts(*args: str) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in groups(*args) for r in g["rules"]}


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("ORDERFLOW_SKIP_PROMTOOL") == "1":
        pytest.skip("ORDERFLOW_SKIP_PROMTOOL=1: no promtool check")
    pytest.fail("promtool not found: apt-get install -y prometheus (or ORDERFLOW_SKIP_PROMTOOL=1)")


# Every alert the chart renders by default, with its severity.
_SEVERITY = {
    "OrderflowListenerDown": "critical",
    "OrderflowListenerBehind": "warning",
    "OrderflowListenerIdle": "critical",
    "OrderflowLogsPossiblyMissing": "critical",
    "OrderflowShortLogReplies": "warning",
    "OrderflowLogsSubscriptionMissing": "warning",
    "OrderflowConfirmingReadFound": "warning",
    "OrderflowDeadLetters": "warning",
    "OrderflowListenerReconnecting": "warning",
    "OrderflowExecutorDown": "critical",
    "OrderflowNoTradingLeader": "critical",
    "OrderflowCancelsRefused": "critical",
    "OrderflowCredentialsRefused": "critical",
    "OrderflowOrderHeartbeatRefused": "warning",
    "OrderflowRateLimitWarned": "warning",
    "OrderflowOrdersRejected": "warning",
    "OrderflowSignalsSlow": "warning",
    "OrderflowReputationStale": "warning",
}


def test_off_by_default_and_following_the_components() -> None:
    assert not by_kind(render(), "PrometheusRule")
    assert set(alerts()) == set(_SEVERITY)
    names = {g["name"] for g in groups("--set", "executor.enabled=false")}
    assert names == {"orderflow-listener", "orderflow-reputation"}
    names = {g["name"] for g in groups("--set", "metrics.prometheusRule.kubeStateMetrics=false")}
    assert names == {"orderflow-listener", "orderflow-executor"}
    labelled = alerts("--set", "metrics.prometheusRule.alertLabels.team=trading")
    assert all(r["labels"]["team"] == "trading" for r in labelled.values())
    assert {name: r["labels"]["severity"] for name, r in labelled.items()} == _SEVERITY


def test_alerts_read_what_the_code_exports() -> None:
    """A typo in a series name or a label value would make an alert that can never fire."""
    exported = exported_series()
    for name, rule in alerts().items():
        for series in orderflow_series(rule["expr"]):
            assert series in exported, f"{name}: {series} is not exported"
    rejected = alerts()["OrderflowOrdersRejected"]["expr"]
    assert 'status="REJECTED"' in rejected and "REJECTED" in typing.get_args(OrderStatus)


def _promtool_files(tmp_path: Path) -> Path:
    """The rendered groups as a Prometheus rule file (annotations left out: the firing tests
    compare labels; ``promtool check rules`` checks the annotations' templates)."""
    rules = tmp_path / "rules.yaml"
    plain = [
        {**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
        for g in groups()
    ]
    rules.write_text(yaml.safe_dump({"groups": plain}))
    return rules


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    rules = tmp_path / "full.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups()}))
    proc = subprocess.run(
        [promtool(), "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _fires(name: str, at: str, **labels: str) -> dict[str, Any]:
    return {
        "eval_time": at,
        "alertname": name,
        "exp_alerts": [{"exp_labels": {"severity": _SEVERITY[name], **labels}}],
    }


def _silent(name: str, at: str) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": []}


# Series every minute (promtool's notation: "a+bxN" is a, then N steps of b; "_" is no sample),
# by a short name for the cases to replace.
HEALTHY = {
    "listener up": (f'up{{{LISTENER},pod="l-0"}}', "1x150"),
    "executor up": (f'up{{{EXECUTOR},pod="e-0"}}', "1x150"),
    "standby up": (f'up{{{EXECUTOR},pod="e-1"}}', "1x150"),
    "leader": (f'orderflow_executor_leader{{{EXECUTOR},pod="e-0"}}', "1x150"),
    "standby": (f'orderflow_executor_leader{{{EXECUTOR},pod="e-1"}}', "0x150"),
    "logs": (f"orderflow_listener_logs_total{{{LISTENER}}}", "0+40x150"),
    "lag": (f"orderflow_listener_head_lag_blocks{{{LISTENER}}}", "3x150"),
    "reconnects": (f"orderflow_listener_reconnects_total{{{LISTENER}}}", "0x150"),
    "dead letters": (f"orderflow_listener_dead_letters_total{{{LISTENER}}}", "0x150"),
    "capped": (f"orderflow_listener_getlogs_capped_blocks_total{{{LISTENER}}}", "0x150"),
    "behind": (f"orderflow_listener_getlogs_behind_total{{{LISTENER}}}", "0x150"),
    "missed": (f"orderflow_listener_subscription_missed_blocks_total{{{LISTENER}}}", "0x150"),
    "found late": (f"orderflow_listener_confirming_read_found_total{{{LISTENER}}}", "0x150"),
    "filled": (f'orderflow_orders_total{{{EXECUTOR},mode="live",status="FILLED"}}', "0+2x150"),
    "fast": (f'orderflow_signal_latency_seconds_bucket{{{EXECUTOR},le="0.01"}}', "0+10x150"),
    "second": (f'orderflow_signal_latency_seconds_bucket{{{EXECUTOR},le="1.0"}}', "0+10x150"),
    "slow": (f'orderflow_signal_latency_seconds_bucket{{{EXECUTOR},le="5.0"}}', "0+10x150"),
    "all": (f'orderflow_signal_latency_seconds_bucket{{{EXECUTOR},le="+Inf"}}', "0+10x150"),
    # the CronJob made at 0 and a success every hour (kube-state-metrics: seconds since epoch)
    "created": (f"kube_cronjob_created{{{CRONJOB}}}", "0x300"),
    "succeeded": (f"kube_cronjob_status_last_successful_time{{{CRONJOB}}}", "_x59 3600x60 7200x30"),
}


def _series(**changes: str | None) -> list[dict[str, str]]:
    """HEALTHY with some series' values changed (None: the series is absent)."""
    values = {**{k: v for k, (_, v) in HEALTHY.items()}, **changes}
    return [{"series": HEALTHY[k][0], "values": v} for k, v in values.items() if v is not None]


def _case(input_series: list[dict[str, str]], checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"interval": "1m", "input_series": input_series, "alert_rule_test": checks}


def test_alerts_fire_when_they_should_and_only_then(tmp_path: Path) -> None:
    every = list(_SEVERITY)
    listener = {"job": "of-orderflow-listener-metrics", "namespace": NAMESPACE}
    rejected = f'orderflow_orders_total{{{EXECUTOR},mode="live",status="REJECTED"}}'
    paper = f'orderflow_orders_total{{{EXECUTOR},mode="paper",status="REJECTED"}}'
    refused = f'orderflow_cancels_refused_total{{{EXECUTOR},why="credentials"}}'
    key = f'orderflow_credentials_refused_total{{{EXECUTOR},mode="live",request="check"}}'
    cases = [
        # all well: nothing fires at any time
        _case(_series(), [_silent(name, at) for name in every for at in ("20m", "1h", "2h")]),
        # the listener's pod answers no scrape from minute 31
        _case(
            _series(**{"listener up": "1x30 0x120"}),
            [
                _silent("OrderflowListenerDown", "33m"),
                _fires("OrderflowListenerDown", "40m", **listener),
            ],
        ),
        # the listener is up but receives nothing from minute 20 on
        _case(
            _series(logs="0+40x20 800x130"),
            [_silent("OrderflowListenerIdle", "55m"), _fires("OrderflowListenerIdle", "1h25m")],
        ),
        # 200 blocks behind from minute 31: fires after 10 minutes of it
        _case(
            _series(lag="3x30 200x120"),
            [_silent("OrderflowListenerBehind", "35m"), _fires("OrderflowListenerBehind", "45m")],
        ),
        # one block stored from a capped reply at minute 41: at once, for the hour after
        _case(
            _series(capped="0x40 1x110"),
            [
                _silent("OrderflowLogsPossiblyMissing", "39m"),
                _fires("OrderflowLogsPossiblyMissing", "42m"),
                _silent("OrderflowLogsPossiblyMissing", "2h"),
            ],
        ),
        # one short reply at minute 11 (read again: nothing); one a minute from minute 41 (a
        # load-balanced endpoint behind the head): fires while more than 3 in the last hour
        _case(
            _series(behind="0x10 1x30 2+1x109"),
            [
                _silent("OrderflowShortLogReplies", "20m"),
                _silent("OrderflowShortLogReplies", "43m"),
                _fires("OrderflowShortLogReplies", "50m"),
            ],
        ),
        # one block the logs subscription left out, at minute 41 (read with eth_getLogs): at
        # once, for the hour after
        _case(
            _series(missed="0x40 1x110"),
            [
                _silent("OrderflowLogsSubscriptionMissing", "39m"),
                _fires("OrderflowLogsSubscriptionMissing", "42m"),
                _silent("OrderflowLogsSubscriptionMissing", "2h"),
            ],
        ),
        # two fills left out of their blocks, stored by the confirming read at minute 41: at
        # once, for the hour after
        _case(
            _series(**{"found late": "0x40 2x110"}),
            [
                _silent("OrderflowConfirmingReadFound", "39m"),
                _fires("OrderflowConfirmingReadFound", "42m"),
                _silent("OrderflowConfirmingReadFound", "2h"),
            ],
        ),
        # three dead letters at minute 41; a reconnection a minute from minute 61
        _case(
            _series(**{"dead letters": "0x40 3x110", "reconnects": "0x60 1+1x89"}),
            [
                _silent("OrderflowDeadLetters", "39m"),
                _fires("OrderflowDeadLetters", "45m"),
                _silent("OrderflowListenerReconnecting", "1h"),
                _fires("OrderflowListenerReconnecting", "1h10m"),
            ],
        ),
        # no executor pod scraped at all
        _case(
            _series(**{"executor up": None, "standby up": None}),
            [
                _fires(
                    "OrderflowExecutorDown",
                    "5m",
                    job="of-orderflow-executor-metrics",
                    namespace=NAMESPACE,
                )
            ],
        ),
        # the leader's pod goes at minute 31 and the standby never takes over
        _case(
            _series(**{"executor up": "1x30", "leader": "1x30"}),
            [
                _silent("OrderflowExecutorDown", "45m"),
                _silent("OrderflowNoTradingLeader", "32m"),
                _fires(
                    "OrderflowNoTradingLeader",
                    "45m",
                    job="of-orderflow-executor-metrics",
                    namespace=NAMESPACE,
                ),
            ],
        ),
        # ... or takes over at minute 32: nothing fires
        _case(
            _series(**{"executor up": "1x30", "leader": "1x30", "standby": "0x31 1x118"}),
            [_silent("OrderflowNoTradingLeader", at) for at in ("32m", "45m", "2h")],
        ),
        # one cancel refused at minute 21 (a blip): nothing; refused every minute from minute 42
        # (the API key revoked): fires once it lasted a while
        _case(
            [*_series(), {"series": refused, "values": "0x20 1x20 1+1x60"}],
            [
                _silent("OrderflowCancelsRefused", "26m"),
                _silent("OrderflowCancelsRefused", "30m"),
                _silent("OrderflowCancelsRefused", "46m"),
                _fires("OrderflowCancelsRefused", "55m", why="credentials"),
            ],
        ),
        # the API key refused from minute 41 (an order, then a check a minute apart): no live
        # order goes out, exits included — fires, not a rejection of orders it no longer sends
        _case(
            [*_series(), {"series": key, "values": "0x40 1+1x109"}],
            [
                _silent("OrderflowCredentialsRefused", "40m"),
                _silent("OrderflowOrdersRejected", "50m"),
                _fires("OrderflowCredentialsRefused", "45m", mode="live"),
            ],
        ),
        # the order heartbeats refused from minute 41 (every send: a dozen a minute) — fires; a
        # blip of two refusals at minute 21 does not
        _case(
            [
                *_series(),
                {
                    "series": f'orderflow_order_heartbeats_total{{{EXECUTOR},result="refused"}}',
                    "values": "0x20 2x19 2+12x110",
                },
            ],
            [
                _silent("OrderflowOrderHeartbeatRefused", "25m"),
                _silent("OrderflowOrderHeartbeatRefused", "40m"),
                _fires("OrderflowOrderHeartbeatRefused", "45m"),
            ],
        ),
        # two requests warned at minute 31, none after: fires at once, silent an hour later
        _case(
            [
                *_series(),
                {
                    "series": WARNED,
                    "values": "0x30 2x119",
                },
            ],
            [
                _silent("OrderflowRateLimitWarned", "29m"),
                _fires("OrderflowRateLimitWarned", "33m"),
                _silent("OrderflowRateLimitWarned", "1h35m"),
            ],
        ),
        # live orders refused from minute 51; no paper order refused
        _case(
            [
                *_series(),
                {"series": rejected, "values": "0x50 1+1x99"},
                {"series": paper, "values": "0x150"},
            ],
            [
                _silent("OrderflowOrdersRejected", "45m"),
                _fires("OrderflowOrdersRejected", "55m", mode="live"),
            ],
        ),
        # every signal between one and five seconds from minute 61
        _case(
            _series(fast="0+10x60 600x90", second="0+10x60 600x90"),
            [_silent("OrderflowSignalsSlow", "1h5m"), _fires("OrderflowSignalsSlow", "1h25m")],
        ),
        # the last success at 1 h, none after: stale from 4 h
        _case(
            _series(succeeded="_x59 3600x300"),
            [
                _silent("OrderflowReputationStale", "3h59m"),
                _fires("OrderflowReputationStale", "4h2m"),
            ],
        ),
        # never succeeded since its creation at 0
        _case(
            _series(succeeded=None),
            [
                _silent("OrderflowReputationStale", "2h59m"),
                _fires(
                    "OrderflowReputationStale",
                    "3h2m",
                    namespace=NAMESPACE,
                    cronjob="of-orderflow-reputation",
                ),
            ],
        ),
    ]
    spec = tmp_path / "tests.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(_promtool_files(tmp_path))],
                "evaluation_interval": "1m",
                "tests": cases,
            }
        )
    )
    proc = subprocess.run(
        [promtool(), "test", "rules", str(spec)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
