namespace AdCtr.LoadTests.Engine;

/// <summary>The figures of one stage, as reported.</summary>
public sealed record StepStats
{
    /// <summary>"warmup", "step" or "smoke".</summary>
    public required string Phase { get; init; }

    /// <summary>The load simulation, written like NBomber's (e.g. <c>Inject(2000, 1s, 10s)</c>).</summary>
    public required string Simulation { get; init; }

    /// <summary>Requests per second the generator was asked to send (open model: planned requests / duration; 0 in the closed model, see <see cref="Copies"/>).</summary>
    public required double OfferedRate { get; init; }

    public int? Copies { get; init; }

    public required double DurationSeconds { get; init; }

    public required int Requests { get; init; }

    /// <summary>Successful responses per second, from the stage start to the last response (at least the stage duration).</summary>
    public required double AchievedRate { get; init; }

    public required int Errors { get; init; }

    public required double ErrorRate { get; init; }

    public required IReadOnlyDictionary<string, int> ErrorsByKind { get; init; }

    /// <summary>Latency of successful requests from the intended send time (open model) or from the send (closed model).</summary>
    public required LatencySummary Latency { get; init; }

    /// <summary>Latency from the actual send, without the generator's lateness (what a closed-loop tool would report).</summary>
    public required LatencySummary Service { get; init; }

    /// <summary>How late the generator sent: actual minus intended send time (open model only).</summary>
    public required LatencySummary SendLag { get; init; }

    /// <summary>CPU the generator process used during the stage, in percent of one core (100 = one core busy).</summary>
    public double? GeneratorCpuPercent { get; init; }

    public bool Passed { get; init; }

    /// <summary>The freshness probes run during this step (profiles with a <c>freshness</c> section), else null.</summary>
    public FreshnessStats? Freshness { get; init; }

    /// <summary>Achieved rate divided by the baseline scenario's highest passing rate, when a baseline was measured.</summary>
    public double? RatioToBaseline { get; init; }

    public static StepStats From(StageSamples samples, string phase)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var ok = 0;
        var errorsByKind = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var code in samples.Codes)
        {
            if (Outcome.IsSuccess(code))
            {
                ok++;
            }
            else
            {
                var name = Outcome.Name(code);
                errorsByKind[name] = errorsByKind.GetValueOrDefault(name) + 1;
            }
        }

        var latency = new double[ok];
        var service = new double[ok];
        var lag = new List<double>(samples.Count);
        var k = 0;
        for (var i = 0; i < samples.Count; i++)
        {
            var code = samples.Codes[i];
            if (Outcome.IsSuccess(code))
            {
                latency[k] = samples.TicksToMs(samples.LatencyTicks[i]);
                service[k] = samples.TicksToMs(samples.ServiceTicks[i]);
                k++;
            }

            if (code != Outcome.Cancelled)
            {
                lag.Add(samples.TicksToMs(samples.SendLagTicks[i]));
            }
        }

        var seconds = samples.DurationTicks / (double)samples.Frequency;
        var errors = samples.Count - ok;
        var closed = samples.Simulation as KeepConstant;
        return new StepStats
        {
            Phase = phase,
            Simulation = Describe(samples.Simulation),
            OfferedRate = closed is null && seconds > 0 ? samples.Count / seconds : 0,
            Copies = closed?.Copies,
            DurationSeconds = seconds,
            Requests = samples.Count,
            AchievedRate = samples.ActiveTicks > 0 ? ok * (double)samples.Frequency / samples.ActiveTicks : 0,
            Errors = errors,
            ErrorRate = samples.Count == 0 ? 0 : errors / (double)samples.Count,
            ErrorsByKind = errorsByKind,
            Latency = Percentiles.Summarise(latency),
            Service = Percentiles.Summarise(service),
            SendLag = closed is null ? Percentiles.Summarise([.. lag]) : LatencySummary.Empty,
        };
    }

    public static string Describe(LoadSimulation simulation) => simulation switch
    {
        Inject i => FormattableString.Invariant($"Inject({i.Rate}, {Span(i.Interval)}, {Span(i.During)})"),
        RampingInject r => FormattableString.Invariant($"RampingInject({r.FromRate}->{r.Rate}, {Span(r.Interval)}, {Span(r.During)})"),
        KeepConstant c => FormattableString.Invariant($"KeepConstant({c.Copies}, {Span(c.During)})"),
        _ => simulation.ToString(),
    };

    private static string Span(TimeSpan t) => t.TotalSeconds >= 1 && t.TotalSeconds % 1 == 0
        ? FormattableString.Invariant($"{t.TotalSeconds:0}s")
        : FormattableString.Invariant($"{t.TotalMilliseconds:0.###}ms");
}
