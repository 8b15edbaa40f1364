"""Rate shopping: which carrier takes a parcel, and why every other one did not.

Input: the quotes every connected carrier gave (:class:`CarrierQuote`, a mirror of the adapters'
``Quote``: the domain cannot import adapters), the facts of the shipment, lane statistics and the
tenant's rules. The choice goes in three steps, each recorded:

1. **Eligibility.** A quote is excluded when the parcel is heavier than the carrier's limit, when
   the order is COD and the carrier cannot collect cash, or when an override rule excludes the
   carrier (``{"when": {"payment": "cod", "order_value_above": 5000}, "exclude": ["X"]}``) or
   keeps only others (``"only": [...]``). An override may also switch the strategy.
2. **Strategy** among the eligible quotes:

   - ``cheapest``: lowest price; ties go to the faster, then to the carrier code;
   - ``fastest``: fewest estimated days (the delivery estimate when known, else the carrier's
     stated days; unknown counts as slowest); ties go to the cheaper;
   - ``best_performing``: highest delivered share on the lane (carrier, origin zone, destination
     pincode prefix), among quotes whose lane has at least ``min_lane_shipments`` finished
     shipments; ties go to the lower RTO rate, then the cheaper. When no eligible quote has
     enough history, it falls back to ``cheapest`` and says so.
3. **Outcome**: the chosen quote, and for every other quote the reason it lost or was excluded,
   as data (``reason`` code plus figures) and as one sentence, both stored with the shipment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from ordermesh.domain.errors import Collector
from ordermesh.domain.money import format_amount


class Strategy(StrEnum):
    CHEAPEST = "cheapest"
    FASTEST = "fastest"
    BEST_PERFORMING = "best_performing"


DEFAULT_MIN_LANE_SHIPMENTS = 20


@dataclass(frozen=True)
class CarrierQuote:
    """One way to ship, as a carrier quoted it (mirrors adapters.carriers.base.Quote)."""

    carrier: str
    service: str
    service_name: str
    price: Decimal  # total, rupees
    cod_fee: Decimal = Decimal(0)
    cod: bool = True
    etd_days: int | None = None  # the carrier's stated days
    max_weight_g: int | None = None
    estimated_days: int | None = None  # our estimate from history (delivery_estimates), when known

    @property
    def key(self) -> str:
        return f"{self.carrier}/{self.service}"

    @property
    def days(self) -> int | None:
        return self.estimated_days if self.estimated_days is not None else self.etd_days


@dataclass(frozen=True)
class LaneStats:
    """Finished shipments on a lane: (carrier, origin zone, destination pincode prefix)."""

    shipments: int  # delivered + RTO + lost: the ones whose outcome is known
    delivered: int
    rto: int

    @property
    def delivered_share(self) -> Decimal:
        return Decimal(self.delivered) / self.shipments if self.shipments else Decimal(0)

    @property
    def rto_rate(self) -> Decimal:
        return Decimal(self.rto) / self.shipments if self.shipments else Decimal(0)


@dataclass(frozen=True)
class ShipmentFacts:
    cod: bool
    order_value: Decimal
    weight_g: int  # chargeable
    origin_zone: str = ""  # the lane stats' origin key
    destination_pincode: str = ""

    @property
    def destination_prefix(self) -> str:
        return self.destination_pincode[:3]


@dataclass(frozen=True)
class Override:
    """``when`` all conditions hold: exclude carriers, keep only some, and/or switch strategy."""

    payment: str | None = None  # cod | prepaid
    order_value_above: Decimal | None = None
    order_value_at_most: Decimal | None = None
    weight_above_g: int | None = None
    destination_prefixes: tuple[str, ...] = ()  # pincode prefixes ("78", "744")
    exclude: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    strategy: Strategy | None = None

    def applies(self, facts: ShipmentFacts) -> bool:
        if self.payment is not None and self.payment != ("cod" if facts.cod else "prepaid"):
            return False
        if self.order_value_above is not None and not facts.order_value > self.order_value_above:
            return False
        if self.order_value_at_most is not None and not facts.order_value <= self.order_value_at_most:
            return False
        if self.weight_above_g is not None and not facts.weight_g > self.weight_above_g:
            return False
        return not self.destination_prefixes or facts.destination_pincode.startswith(self.destination_prefixes)

    def describe(self) -> str:
        parts = []
        if self.payment:
            parts.append(f"{self.payment.upper() if self.payment == 'cod' else self.payment} orders")
        if self.order_value_above is not None:
            parts.append(f"above ₹{format_amount(self.order_value_above)}")
        if self.order_value_at_most is not None:
            parts.append(f"up to ₹{format_amount(self.order_value_at_most)}")
        if self.weight_above_g is not None:
            parts.append(f"over {self.weight_above_g} g")
        if self.destination_prefixes:
            parts.append(f"to pincodes {', '.join(p + '…' for p in self.destination_prefixes)}")
        return " ".join(parts) or "every order"


@dataclass(frozen=True)
class ChoiceRules:
    strategy: Strategy = Strategy.CHEAPEST
    min_lane_shipments: int = DEFAULT_MIN_LANE_SHIPMENTS
    overrides: tuple[Override, ...] = ()

    @classmethod
    def from_dict(cls, raw: object, errors: Collector | None = None, where: str = "carrier_choice") -> ChoiceRules:
        own = errors is None
        errs = Collector() if errors is None else errors
        rules = _rules(raw, errs, where)
        if own:
            errs.raise_if_any("The carrier choice rules have invalid fields")
        return rules


class Verdict(StrEnum):
    CHOSEN = "chosen"
    LOST = "lost"
    EXCLUDED = "excluded"


@dataclass(frozen=True)
class Outcome:
    quote: CarrierQuote
    verdict: Verdict
    reason: str  # chosen | cheaper | faster | better_lane | too_little_history | overweight | no_cod | rule
    sentence: str
    figures: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "carrier": self.quote.carrier,
            "service": self.quote.service,
            "service_name": self.quote.service_name,
            "price": format_amount(self.quote.price),
            "days": self.quote.days,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "sentence": self.sentence,
            "figures": dict(self.figures),
        }


@dataclass(frozen=True)
class Choice:
    chosen: CarrierQuote | None
    strategy: Strategy  # the one applied (after overrides)
    fell_back: bool  # best_performing fell back to cheapest for want of history
    outcomes: tuple[Outcome, ...]  # the chosen first, then the rest as ranked, then the excluded
    summary: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen.key if self.chosen else None,
            "strategy": self.strategy.value,
            "fell_back": self.fell_back,
            "summary": self.summary,
            "outcomes": [o.as_dict() for o in self.outcomes],
        }


def _rupees(amount: Decimal) -> str:
    return f"₹{format_amount(amount)}"


def _percent(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal('0.1'))}%"


def _name(quote: CarrierQuote) -> str:
    return f"{quote.service_name} ({quote.carrier})"


def _days(days: int | None) -> str:
    return "unknown days" if days is None else f"{days} day{'s' if days != 1 else ''}"


def choose(
    quotes: Sequence[CarrierQuote],
    facts: ShipmentFacts,
    rules: ChoiceRules,
    lanes: Mapping[tuple[str, str, str], LaneStats] | None = None,
) -> Choice:
    """Pick a quote by the rules; ``lanes`` by (carrier, origin zone, destination prefix)."""
    lanes = lanes or {}
    strategy = rules.strategy
    excluded: list[Outcome] = []
    eligible: list[CarrierQuote] = []
    active = [(i, o) for i, o in enumerate(rules.overrides, 1) if o.applies(facts)]
    for _, override in active:
        if override.strategy is not None:
            strategy = override.strategy
    for quote in quotes:
        out = _exclusion(quote, facts, active)
        if out is None:
            eligible.append(quote)
        else:
            excluded.append(out)

    def lane(q: CarrierQuote) -> LaneStats | None:
        return lanes.get((q.carrier, facts.origin_zone, facts.destination_prefix))

    def cheapest_key(q: CarrierQuote) -> tuple[Any, ...]:
        return (q.price, q.days if q.days is not None else 10**6, q.carrier, q.service)

    fell_back = False
    ranked: list[CarrierQuote]
    short: list[CarrierQuote] = []
    if strategy is Strategy.FASTEST:
        ranked = sorted(eligible, key=lambda q: (q.days if q.days is not None else 10**6, *cheapest_key(q)))
    elif strategy is Strategy.BEST_PERFORMING:
        known = [q for q in eligible if (s := lane(q)) is not None and s.shipments >= rules.min_lane_shipments]
        short = [q for q in eligible if q not in known]
        if known:
            ranked = sorted(
                known,
                key=lambda q: (-_stats(lane(q)).delivered_share, _stats(lane(q)).rto_rate, *cheapest_key(q)),
            )
        else:
            fell_back = bool(eligible)
            ranked, short = sorted(eligible, key=cheapest_key), []
    else:
        ranked = sorted(eligible, key=cheapest_key)

    if not ranked:
        summary = "No carrier can take this shipment: " + (
            "; ".join(o.sentence for o in excluded) if excluded else "no quotes."
        )
        return Choice(None, strategy, False, tuple(excluded), summary)

    best = ranked[0]
    used = Strategy.CHEAPEST if fell_back else strategy
    chosen_sentence = _chosen_sentence(best, used, fell_back, lane(best), rules.min_lane_shipments)
    outcomes = [Outcome(best, Verdict.CHOSEN, "chosen", chosen_sentence, _figures(best, lane(best)))]
    for quote in ranked[1:]:
        outcomes.append(_lost(quote, best, used, lane(quote), lane(best)))
    for quote in short:
        stats = lane(quote)
        count = stats.shipments if stats else 0
        outcomes.append(
            Outcome(
                quote,
                Verdict.LOST,
                "too_little_history",
                f"{_name(quote)} lost: only {count} finished shipment(s) on this lane, "
                f"fewer than the {rules.min_lane_shipments} needed to judge it.",
                {"shipments": count, "needed": rules.min_lane_shipments},
            )
        )
    outcomes.extend(excluded)
    return Choice(best, used, fell_back, tuple(outcomes), chosen_sentence)


def _stats(stats: LaneStats | None) -> LaneStats:
    return stats if stats is not None else LaneStats(0, 0, 0)


def _figures(quote: CarrierQuote, stats: LaneStats | None) -> dict[str, Any]:
    figures: dict[str, Any] = {"price": format_amount(quote.price), "days": quote.days}
    if stats is not None:
        figures |= {
            "shipments": stats.shipments,
            "delivered_share": str(stats.delivered_share.quantize(Decimal("0.001"))),
            "rto_rate": str(stats.rto_rate.quantize(Decimal("0.001"))),
        }
    return figures


def _exclusion(quote: CarrierQuote, facts: ShipmentFacts, active: list[tuple[int, Override]]) -> Outcome | None:
    if quote.max_weight_g is not None and facts.weight_g > quote.max_weight_g:
        return Outcome(
            quote,
            Verdict.EXCLUDED,
            "overweight",
            f"{_name(quote)} excluded: the parcel's {facts.weight_g} g is over its limit of {quote.max_weight_g} g.",
            {"weight_g": facts.weight_g, "max_weight_g": quote.max_weight_g},
        )
    if facts.cod and not quote.cod:
        return Outcome(
            quote,
            Verdict.EXCLUDED,
            "no_cod",
            f"{_name(quote)} excluded: it cannot collect cash on delivery, and this order is COD.",
        )
    for number, override in active:
        if quote.carrier in override.exclude or (override.only and quote.carrier not in override.only):
            how = "excludes it" if quote.carrier in override.exclude else f"allows only {', '.join(override.only)}"
            return Outcome(
                quote,
                Verdict.EXCLUDED,
                "rule",
                f"{_name(quote)} excluded by rule {number}: for {override.describe()} the rule {how}.",
                {"rule": number},
            )
    return None


def _chosen_sentence(
    quote: CarrierQuote, strategy: Strategy, fell_back: bool, stats: LaneStats | None, needed: int
) -> str:
    head = f"{_name(quote)} chosen"
    if fell_back:
        return (
            f"{head} as the cheapest at {_rupees(quote.price)}: no carrier has the {needed} finished "
            "shipments on this lane needed to compare performance."
        )
    if strategy is Strategy.FASTEST:
        return f"{head} as the fastest: {_days(quote.days)} at {_rupees(quote.price)}."
    if strategy is Strategy.BEST_PERFORMING and stats is not None:
        return (
            f"{head} as the best performer on this lane: {_percent(stats.delivered_share)} delivered "
            f"of {stats.shipments} shipments, at {_rupees(quote.price)}."
        )
    return f"{head} as the cheapest: {_rupees(quote.price)}, {_days(quote.days)}."


def _lost(
    quote: CarrierQuote, best: CarrierQuote, strategy: Strategy, stats: LaneStats | None, best_stats: LaneStats | None
) -> Outcome:
    figures = _figures(quote, stats)
    if strategy is Strategy.FASTEST and quote.days != best.days:
        return Outcome(
            quote,
            Verdict.LOST,
            "slower",
            f"{_name(quote)} lost: {_days(quote.days)} against {_days(best.days)} for {_name(best)}.",
            figures,
        )
    if (
        strategy is Strategy.BEST_PERFORMING
        and stats is not None
        and best_stats is not None
        and (stats.delivered_share, stats.rto_rate) != (best_stats.delivered_share, best_stats.rto_rate)
    ):
        return Outcome(
            quote,
            Verdict.LOST,
            "worse_lane",
            f"{_name(quote)} lost: {_percent(stats.delivered_share)} delivered on this lane "
            f"(RTO {_percent(stats.rto_rate)}) against {_percent(best_stats.delivered_share)} "
            f"(RTO {_percent(best_stats.rto_rate)}) for {_name(best)}.",
            figures,
        )
    if quote.price != best.price:
        return Outcome(
            quote,
            Verdict.LOST,
            "dearer",
            f"{_name(quote)} lost: {_rupees(quote.price)}, {_rupees(quote.price - best.price)} more than "
            f"{_name(best)} at {_rupees(best.price)}.",
            figures | {"difference": format_amount(quote.price - best.price)},
        )
    if quote.days != best.days:
        return Outcome(
            quote,
            Verdict.LOST,
            "slower",
            f"{_name(quote)} lost: same price, but {_days(quote.days)} against {_days(best.days)}.",
            figures,
        )
    return Outcome(
        quote,
        Verdict.LOST,
        "tie",
        f"{_name(quote)} lost a tie with {_name(best)} (same price and days; decided by carrier code).",
        figures,
    )


# -- rules from settings -------------------------------------------------------------------------

_RULE_KEYS = ("strategy", "min_lane_shipments", "overrides")
_WHEN_KEYS = ("payment", "order_value_above", "order_value_at_most", "weight_above_g", "destination_prefixes")
_OVERRIDE_KEYS = ("when", "exclude", "only", "strategy")


def _rules(raw: object, errors: Collector, where: str) -> ChoiceRules:
    if not isinstance(raw, Mapping):
        errors.add(where, "must be an object")
        return ChoiceRules()
    for key in sorted(set(raw) - set(_RULE_KEYS)):
        errors.add(f"{where}.{key}", f"unknown setting; use {', '.join(_RULE_KEYS)}")
    strategy = _strategy(raw.get("strategy", "cheapest"), f"{where}.strategy", errors) or Strategy.CHEAPEST
    minimum = raw.get("min_lane_shipments", DEFAULT_MIN_LANE_SHIPMENTS)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or not 1 <= minimum <= 100_000:
        errors.add(f"{where}.min_lane_shipments", "must be a whole number from 1 to 100000")
        minimum = DEFAULT_MIN_LANE_SHIPMENTS
    overrides_raw = raw.get("overrides", [])
    overrides: list[Override] = []
    if not isinstance(overrides_raw, list):
        errors.add(f"{where}.overrides", "must be a list of rules")
    else:
        for i, item in enumerate(overrides_raw):
            override = _override(item, f"{where}.overrides.{i}", errors)
            if override is not None:
                overrides.append(override)
    return ChoiceRules(strategy, minimum, tuple(overrides))


def _strategy(value: object, where: str, errors: Collector) -> Strategy | None:
    try:
        return Strategy(str(value))
    except ValueError:
        errors.add(where, f"must be one of {', '.join(s.value for s in Strategy)}")
        return None


def _codes(value: object, where: str, errors: Collector) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.add(where, "must be a list of carrier codes")
        return ()
    return tuple(v.strip() for v in value)


def _override(raw: object, where: str, errors: Collector) -> Override | None:
    if not isinstance(raw, Mapping):
        errors.add(where, "must be an object with when and exclude, only or strategy")
        return None
    before = len(errors.errors)
    for key in sorted(set(raw) - set(_OVERRIDE_KEYS)):
        errors.add(f"{where}.{key}", f"unknown field; use {', '.join(_OVERRIDE_KEYS)}")
    when = raw.get("when", {})
    if not isinstance(when, Mapping):
        errors.add(f"{where}.when", "must be an object of conditions")
        when = {}
    for key in sorted(set(when) - set(_WHEN_KEYS)):
        errors.add(f"{where}.when.{key}", f"unknown condition; use {', '.join(_WHEN_KEYS)}")
    payment = when.get("payment")
    if payment is not None and payment not in ("cod", "prepaid"):
        errors.add(f"{where}.when.payment", "must be cod or prepaid")
    above = _amount(when.get("order_value_above"), f"{where}.when.order_value_above", errors)
    at_most = _amount(when.get("order_value_at_most"), f"{where}.when.order_value_at_most", errors)
    weight = when.get("weight_above_g")
    if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int) or weight < 0):
        errors.add(f"{where}.when.weight_above_g", "must be a whole number of grams")
    prefixes = when.get("destination_prefixes", [])
    if not isinstance(prefixes, list) or not all(
        isinstance(p, str) and p.isdigit() and 1 <= len(p) <= 6 for p in prefixes
    ):
        errors.add(f"{where}.when.destination_prefixes", "must be a list of pincode prefixes (1 to 6 digits)")
        prefixes = []
    exclude = _codes(raw.get("exclude"), f"{where}.exclude", errors)
    only = _codes(raw.get("only"), f"{where}.only", errors)
    strategy = None
    if raw.get("strategy") is not None:
        strategy = _strategy(raw.get("strategy"), f"{where}.strategy", errors)
    if not exclude and not only and strategy is None and len(errors.errors) == before:
        errors.add(where, "does nothing: give exclude, only or strategy")
    if len(errors.errors) > before:
        return None
    return Override(
        payment=payment,
        order_value_above=above,
        order_value_at_most=at_most,
        weight_above_g=weight,
        destination_prefixes=tuple(prefixes),
        exclude=exclude,
        only=only,
        strategy=strategy,
    )


def _amount(value: object, where: str, errors: Collector) -> Decimal | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool | float):
            raise InvalidOperation
        number = Decimal(str(value).strip())
        if not number.is_finite() or number < 0:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors.add(where, "must be an amount in rupees (a string or whole number)")
        return None
    return number


def lane_stats_from_rows(rows: Iterable[tuple[str, str, str, str]]) -> dict[tuple[str, str, str], LaneStats]:
    """Lane stats from finished shipments as (carrier, origin zone, destination pincode, outcome),
    outcome one of delivered | rto | lost."""
    counts: dict[tuple[str, str, str], list[int]] = {}
    for carrier, origin, pincode, outcome in rows:
        c = counts.setdefault((carrier, origin, pincode[:3]), [0, 0, 0])
        c[0] += 1
        c[1] += outcome == "delivered"
        c[2] += outcome == "rto"
    return {key: LaneStats(*c) for key, c in counts.items()}
