"""Alert events POSTed as JSON to a webhook (Slack-compatible: a ``text`` field, plus the event)."""

from __future__ import annotations

from jupyter_mlops.monitoring.schemas import AlertEvent

TIMEOUT_SECONDS = 5.0


def payload(event: AlertEvent) -> dict[str, object]:
    icon = ":rotating_light:" if event.state == "firing" else ":white_check_mark:"
    return {
        "text": f"{icon} [jupyter-mlops] {event.message}",
        "event": event.model_dump(mode="json"),
    }


def deliver(url: str, event: AlertEvent) -> None:
    """POST one event; the outcome is written on the event (a failure is recorded, not raised)."""
    import httpx

    try:
        response = httpx.post(url, json=payload(event), timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        event.delivered, event.delivery_error = False, f"{type(exc).__name__}: {exc}"
        return
    if response.status_code >= 300:
        event.delivered = False
        event.delivery_error = f"HTTP {response.status_code}: {response.text[:200]}"
    else:
        event.delivered, event.delivery_error = True, None
