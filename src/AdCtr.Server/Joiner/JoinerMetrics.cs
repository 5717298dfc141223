using AdCtr.Server.Telemetry;
using Prometheus;

namespace AdCtr.Server.Joiner;

/// <summary>
/// Instruments of the joiner, made with prometheus-net in the server's registry. Labels are bounded enums (event
/// type and outcome, example label, expiry cause) whose children are made once here, never ids.
/// </summary>
internal sealed class JoinerMetrics
{
    public const string EventsName = "adctr_joiner_events_total";
    public const string PendingName = "adctr_joiner_pending";

    private static readonly string[] OutcomeNames = ["accepted", "duplicate", "click_without_impression", "click_after_window", "impression_after_window", "unknown_impression", "invalid", "serving_silo_unavailable"];

    private readonly Counter _eventsFamily;
    private readonly Counter.Child?[] _events;
    private readonly Counter.Child _positives;
    private readonly Counter.Child _negatives;
    private readonly Counter.Child _expiredWindow;
    private readonly Counter.Child _expiredMemory;
    private readonly Counter _downsampled;
    private readonly Counter _sweepFailures;

    public JoinerMetrics(MetricsRegistry registry, Func<ImpressionJoiner?> joiner)
    {
        var f = registry.Factory;
        var events = f.CreateCounter(EventsName, "Impression and click events, by type and outcome (accepted, duplicate, or why not learned).", ["type", "outcome"]);
        _eventsFamily = events;
        _events = new Counter.Child?[2 * OutcomeNames.Length];
        // The combinations that occur are made up front (their series exist from the start and counting one is an
        // array index); the others cannot occur and would only be made on first use.
        foreach (var o in (ReadOnlySpan<EventOutcome>)[EventOutcome.Accepted, EventOutcome.Duplicate, EventOutcome.ImpressionAfterWindow, EventOutcome.UnknownImpression])
        {
            _events[(int)o] = events.WithLabels("impression", OutcomeNames[(int)o]);
        }

        foreach (var o in (ReadOnlySpan<EventOutcome>)[EventOutcome.Accepted, EventOutcome.Duplicate, EventOutcome.ClickWithoutImpression, EventOutcome.ClickAfterWindow, EventOutcome.UnknownImpression])
        {
            _events[OutcomeNames.Length + (int)o] = events.WithLabels("click", OutcomeNames[(int)o]);
        }

        var examples = f.CreateCounter("adctr_joiner_examples_total", "Examples the joiner produced, by label.", ["label"]);
        _positives = examples.WithLabels("positive");
        _negatives = examples.WithLabels("negative");
        var expired = f.CreateCounter("adctr_joiner_expired_total", "Served predictions forgotten, by cause (window: the attribution window ran out; memory: evicted early at MaxPending).", ["cause"]);
        _expiredWindow = expired.WithLabels("window");
        _expiredMemory = expired.WithLabels("memory");
        _downsampled = f.CreateCounter("adctr_joiner_negatives_downsampled_total", "Negatives dropped by negative downsampling.");
        _sweepFailures = f.CreateCounter("adctr_joiner_sweep_failures_total", "Expiry sweeps that failed to ingest their negatives.");
        var pending = f.CreateGauge(PendingName, "Served predictions remembered for joining (waiting for their impression or click).");
        registry.Registry.AddBeforeCollectCallback(() => pending.Set(joiner()?.PendingCount ?? 0));
    }

    public static string OutcomeName(EventOutcome outcome) => OutcomeNames[(int)outcome];

    public void Event(EventType type, EventOutcome outcome)
    {
        var slot = ((type == EventType.Click ? 1 : 0) * OutcomeNames.Length) + (int)outcome;
        (_events[slot] ??= _eventsFamily.WithLabels(type == EventType.Click ? "click" : "impression", OutcomeNames[(int)outcome])).Inc();
    }

    public void Examples(int positives, int negatives)
    {
        if (positives > 0)
        {
            _positives.Inc(positives);
        }

        if (negatives > 0)
        {
            _negatives.Inc(negatives);
        }
    }

    public void Expired(bool early) => (early ? _expiredMemory : _expiredWindow).Inc();

    public void Downsampled() => _downsampled.Inc();

    public void SweepFailed() => _sweepFailures.Inc();
}
