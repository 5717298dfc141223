using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AdCtr.LoadTests.Profiles;

namespace AdCtr.LoadTests.Engine;

/// <summary>What one freshness probe found; times in milliseconds.</summary>
/// <param name="Problem">Null when the probe completed (reflected or not); else the error kind that ended it.</param>
/// <param name="AckMs">From sending the example to its acknowledgement (the end of the <c>POST /v1/examples</c> response).</param>
/// <param name="LagMs">From the acknowledgement to the end of the first explain response that shows the example; null if none did.</param>
/// <param name="Checks">Explain calls made after the acknowledgement.</param>
public readonly record struct ProbeResult(string? Problem, double AckMs, double? LagMs, int Checks)
{
    public bool ReflectedOnFirstCheck => Problem is null && LagMs is not null && Checks == 1;
}

/// <summary>The freshness figures of one step, as reported.</summary>
public sealed record FreshnessStats
{
    /// <summary>Probes started during the step.</summary>
    public required int Probes { get; init; }

    /// <summary>Probes whose first explain after the acknowledgement already showed the example.</summary>
    public required int ReflectedOnFirstCheck { get; init; }

    /// <summary>Probes whose example showed, on any check.</summary>
    public required int Reflected { get; init; }

    /// <summary>Probes whose example did not show within the allowed checks.</summary>
    public required int NotReflected { get; init; }

    /// <summary>Probes ended by an error (HTTP status, transport failure, rejected example, campaign not new).</summary>
    public required int Errors { get; init; }

    public required IReadOnlyDictionary<string, int> ErrorsByKind { get; init; }

    /// <summary>Send -> acknowledgement of the probe's example.</summary>
    public required LatencySummary Ack { get; init; }

    /// <summary>Acknowledgement -> first response showing the example (reflected probes only).</summary>
    public required LatencySummary Lag { get; init; }

    public static FreshnessStats From(IReadOnlyList<ProbeResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var errors = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var ack = new List<double>(results.Count);
        var lag = new List<double>(results.Count);
        int first = 0, notReflected = 0;
        foreach (var r in results)
        {
            if (r.Problem is { } problem)
            {
                errors[problem] = errors.GetValueOrDefault(problem) + 1;
                continue;
            }

            ack.Add(r.AckMs);
            if (r.LagMs is { } l)
            {
                lag.Add(l);
                first += r.ReflectedOnFirstCheck ? 1 : 0;
            }
            else
            {
                notReflected++;
            }
        }

        return new FreshnessStats
        {
            Probes = results.Count,
            ReflectedOnFirstCheck = first,
            Reflected = lag.Count,
            NotReflected = notReflected,
            Errors = results.Count - ack.Count,
            ErrorsByKind = errors,
            Ack = Percentiles.Summarise([.. ack]),
            Lag = Percentiles.Summarise([.. lag]),
        };
    }
}

/// <summary>
/// Measures how soon a learned example shows in predictions while the load runs (issue #6: "freshness lag,
/// example acknowledged -> reflected in predictions"). Each probe, one after the other:
/// <list type="number">
/// <item>takes a brand-new campaign id (<c>probe-&lt;run&gt;-&lt;n&gt;</c>) and one candidate of it with a normal context;</item>
/// <item>explains the candidate: the campaign part must be empty (the server has no model for the campaign);</item>
/// <item>sends one example of the candidate (label 1) and times send -> acknowledgement;</item>
/// <item>explains the candidate again until the campaign part is non-empty (at most <see cref="FreshnessSpec.MaxChecks"/> times).</item>
/// </list>
/// <para>Why the check is "campaign part non-empty" and not "campaign weights non-zero": the server explains the
/// campaign part only when it has a model for the candidate's campaign (<c>campaignModel: true</c>), and it creates
/// a campaign's model only when it learns an example of it; the campaign is new, so the only example that can have
/// created it is the probe's. The weights are not a usable signal: after one example FTRL-Proximal has z_i = g_i =
/// (p - 1) x_i and n_i = g_i^2 (McMahan et al. 2013, Algorithm 1), so w_i = 0 whenever |p - 1| &lt;= L1; with the
/// default campaign L1 of 0.5 (config/appsettings.json) any prediction p &gt;= 0.5 at learning time, e.g. the 0.5 of
/// a fresh server, leaves every weight at exactly 0 although the example was learned.</para>
/// The probe's requests go through their own client and are not part of the step's statistics.
/// </summary>
public sealed class FreshnessProbe
{
    private readonly FreshnessSpec _spec;
    private readonly BodyFactory _bodies;
    private readonly string _runId;
    private readonly ILoadClock _clock;
    private readonly SetupCall _call;
    private readonly Func<long, CancellationToken, Task> _waitUntil;
    private int _next;

    /// <param name="waitUntil">Completes when <paramref name="clock"/> reaches the given timestamp (tests pass a virtual wait).</param>
    public FreshnessProbe(FreshnessSpec spec, BodyFactory bodies, string runId, ILoadClock clock, SetupCall call, Func<long, CancellationToken, Task>? waitUntil = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(bodies);
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(call);
        _spec = spec;
        _bodies = bodies;
        _runId = runId;
        _clock = clock;
        _call = call;
        _waitUntil = waitUntil ?? SystemWaitUntil;
    }

    private static int _runs;

    /// <summary>
    /// A run id that does not repeat: the time in milliseconds (hex), 16 random bits (other processes) and a counter
    /// (this process).
    /// </summary>
    public static string NewRunId() =>
        DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString("x", CultureInfo.InvariantCulture) + Random.Shared.Next(0x10000).ToString("x4", CultureInfo.InvariantCulture) +
        "." + Interlocked.Increment(ref _runs).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Probes for one step of <paramref name="during"/>: probe n starts at n x interval after the start (or when the
    /// previous one ends, if later), at most during / interval probes, none after the step's end.
    /// </summary>
    public async Task<FreshnessStats> RunStepAsync(TimeSpan during, CancellationToken cancellationToken)
    {
        var interval = _spec.IntervalMs * _clock.Frequency / 1000;
        var start = _clock.GetTimestamp();
        var end = start + (long)(during.TotalSeconds * _clock.Frequency);
        var max = (int)Math.Floor(during.TotalMilliseconds / _spec.IntervalMs);
        var results = new List<ProbeResult>(Math.Max(0, max));
        // Bounded by max probes, each of at most 2 + MaxChecks calls.
        for (var n = 0; n < max && !cancellationToken.IsCancellationRequested; n++)
        {
            try
            {
                await _waitUntil(start + n * interval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (_clock.GetTimestamp() >= end)
            {
                break;
            }

            results.Add(await ProbeOnceAsync(cancellationToken).ConfigureAwait(false));
        }

        return FreshnessStats.From(results);
    }

    /// <summary>One probe (steps a-d of the class summary).</summary>
    public async Task<ProbeResult> ProbeOnceAsync(CancellationToken cancellationToken)
    {
        var campaign = "probe-" + _runId + "-" + (++_next).ToString(CultureInfo.InvariantCulture);
        var (explainBody, exampleBody) = _bodies.Probe(campaign);
        var explain = new LoadRequest("explain", "/v1/explain", BodyFactory.JsonType, explainBody);
        var example = new LoadRequest("examples", "/v1/examples", BodyFactory.NdjsonType, exampleBody);

        var (before, problem) = await ExplainAsync(explain, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            return new ProbeResult(problem, 0, null, 0);
        }

        if (before)
        {
            return new ProbeResult("campaign-not-new", 0, null, 0);
        }

        var sent = _clock.GetTimestamp();
        var (status, body) = await CallAsync(example, cancellationToken).ConfigureAwait(false);
        var acked = _clock.GetTimestamp();
        if (!Outcome.IsSuccess(status))
        {
            return new ProbeResult("examples-" + Outcome.Name(status), 0, null, 0);
        }

        if (Accepted(body) != 1)
        {
            return new ProbeResult("example-rejected", 0, null, 0);
        }

        var ackMs = Ms(acked - sent);
        // Bounded: at most MaxChecks explain calls, RetryDelayMs apart.
        for (var check = 1; check <= _spec.MaxChecks; check++)
        {
            if (check > 1 && _spec.RetryDelayMs > 0)
            {
                try
                {
                    await _waitUntil(_clock.GetTimestamp() + _spec.RetryDelayMs * _clock.Frequency / 1000, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return new ProbeResult("cancelled", ackMs, null, check - 1);
                }
            }

            var (shown, failure) = await ExplainAsync(explain, cancellationToken).ConfigureAwait(false);
            var answered = _clock.GetTimestamp();
            if (failure is not null)
            {
                return new ProbeResult(failure, ackMs, null, check);
            }

            if (shown)
            {
                return new ProbeResult(null, ackMs, Ms(answered - acked), check);
            }
        }

        return new ProbeResult(null, ackMs, null, _spec.MaxChecks);
    }

    /// <summary>Explains the probe candidate: true when the response has a campaign model with a non-empty campaign part.</summary>
    private async Task<(bool CampaignPart, string? Problem)> ExplainAsync(LoadRequest explain, CancellationToken cancellationToken)
    {
        var (status, body) = await CallAsync(explain, cancellationToken).ConfigureAwait(false);
        if (!Outcome.IsSuccess(status))
        {
            return (false, "explain-" + Outcome.Name(status));
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            var model = root.TryGetProperty("campaignModel", out var m) && m.ValueKind == JsonValueKind.True;
            var part = root.TryGetProperty("campaign", out var c) && c.ValueKind == JsonValueKind.Array && c.GetArrayLength() > 0;
            return (model && part, null);
        }
        catch (JsonException)
        {
            return (false, "explain-invalid-json");
        }
    }

    private async Task<(int Status, byte[] Body)> CallAsync(LoadRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await _call(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return (Outcome.Cancelled, []);
        }
        catch (OperationCanceledException)
        {
            return (Outcome.Timeout, []);
        }
        catch (HttpRequestException)
        {
            return (Outcome.Socket, []);
        }
    }

    private static int Accepted(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("accepted", out var a) && a.TryGetInt32(out var n) ? n : -1;
        }
        catch (JsonException)
        {
            return -1;
        }
    }

    private double Ms(long ticks) => ticks * 1000.0 / _clock.Frequency;

    private static async Task SystemWaitUntil(long timestamp, CancellationToken cancellationToken)
    {
        var remaining = timestamp - Stopwatch.GetTimestamp();
        if (remaining > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(remaining / (double)Stopwatch.Frequency), cancellationToken).ConfigureAwait(false);
        }
    }
}
