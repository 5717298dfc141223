using System.Diagnostics;
using AdCtr.LoadTests.Http;
using AdCtr.LoadTests.Profiles;
using AdCtr.LoadTests.Reports;

namespace AdCtr.LoadTests.Engine;

/// <summary>Options of one scenario run.</summary>
public sealed record ScenarioRunOptions
{
    /// <summary>Run the short smoke stage only; any error fails the run.</summary>
    public bool Smoke { get; init; }

    /// <summary>Overrides the profile's <c>maxTotalSeconds</c> when set.</summary>
    public double? MaxSeconds { get; init; }

    /// <summary>Microseconds the scheduler spins before an intended send time instead of sleeping (0: sleep only).</summary>
    public int SpinMicros { get; init; }

    /// <summary>Where the live table goes; null for silence.</summary>
    public TextWriter? Console { get; init; }

    /// <summary>How long to wait for the target's <c>/health/ready</c> (server targets).</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// Runs a scenario: readiness check, body generation (and impression ids from the server when needed), a
/// warm-up, then steps of increasing load until a step misses the SLO, all under the profile's duration cap.
/// </summary>
public static class ScenarioRunner
{
    public static Task<ScenarioReport> RunAsync(LoadProfile profile, Uri target, ScenarioRunOptions options, CancellationToken cancellationToken) =>
        RunAsync(profile, [target], options, cancellationToken);

    /// <summary>Runs the scenario against one target, or several (a cluster's servers) that share the requests round robin.</summary>
    public static async Task<ScenarioReport> RunAsync(LoadProfile profile, IReadOnlyList<Uri> targets, ScenarioRunOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(targets);
        var target = string.Join(",", targets.Select(t => t.ToString()));
        ArgumentNullException.ThrowIfNull(options);
        var watch = Stopwatch.StartNew();
        var cap = TimeSpan.FromSeconds(options.MaxSeconds ?? profile.MaxTotalSeconds);
        var stages = Stages(profile, options.Smoke);
        var criteria = new SloCriteria(profile.SloP99Ms, profile.MaxErrorRate);
        var connections = profile.MaxConnections > 0 ? profile.MaxConnections
            : profile.Model == "closed" ? Math.Max(16, profile.Closed.Copies.Max())
            : HttpLoadTransport.ConnectionsFor(stages.Max(s => s.Simulation.OfferedRatePerSecond), profile.SloP99Ms);
        var report = new ScenarioReport
        {
            Name = profile.Name,
            Description = profile.Description,
            Role = profile.Target,
            TargetUrl = target,
            Model = profile.Model,
            Smoke = options.Smoke,
            SloP99Ms = profile.SloP99Ms,
            MaxErrorRate = profile.MaxErrorRate,
            Connections = connections,
        };
        var loadAtStart = SuiteReport.ReadLoadAverage();
        var console = options.Console;
        console?.WriteLine();
        console?.WriteLine("== " + profile.Name + " -> " + target + (options.Smoke ? " (smoke)" : ""));

        var timeout = TimeSpan.FromMilliseconds(profile.RequestTimeoutMs);
        using var transport = new HttpLoadTransport(targets, connections, timeout);
        RequestFeed feed;
        try
        {
            if (profile.Target == "server")
            {
                await WaitReadyAsync(transport, options.ReadyTimeout, cancellationToken).ConfigureAwait(false);
            }

            feed = await FeedBuilder.BuildAsync(profile, (r, ct) => transport.ExchangeAsync(HttpMethod.Post, r.Path, r, ct), DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or InvalidDataException or OperationCanceledException or System.Text.Json.JsonException)
        {
            report.Error = "setup failed: " + e.Message;
            report.StopReason = "not run";
            report.ElapsedSeconds = watch.Elapsed.TotalSeconds;
            report.LoadAverage = loadAtStart + " -> " + SuiteReport.ReadLoadAverage();
            console?.WriteLine("   " + report.Error);
            return report;
        }

        report = report with { Mix = feed.KindCounts() };
        // Freshness probes use their own small client, so they neither wait for nor count in the load's connections.
        using var probeTransport = profile.Freshness is not null && profile.Target == "server" && !options.Smoke
            ? new HttpLoadTransport(targets[0], 2, timeout)
            : null;
        var probe = probeTransport is null
            ? null
            : new FreshnessProbe(profile.Freshness!, new BodyFactory(profile.Seed + 7919, profile.Data, DateTimeOffset.UtcNow), FreshnessProbe.NewRunId(),
                new SystemLoadClock(), (r, ct) => probeTransport.ExchangeAsync(HttpMethod.Post, r.Path, r, ct));
        var runner = new StageRunner(new SystemLoadClock(options.SpinMicros), transport, feed,
            new StageRunnerOptions { DrainTimeout = timeout + TimeSpan.FromSeconds(1) });
        console?.WriteLine(TableFormatter.ConsoleHeader());

        var measured = new List<StepStats>();
        report.StopReason = options.Smoke ? "smoke" : "all steps passed";
        var stopped = false;
        for (var index = 0; index < stages.Count && !stopped; index++)
        {
            var (phase, simulation) = stages[index];
            // A failing step is run again up to steps.retries times (a stall of a shared machine is not a limit);
            // only the last attempt is judged. Bounded by the retries and the duration cap.
            for (var attempt = 0; ; attempt++)
            {
                var needed = simulation.During + timeout + TimeSpan.FromSeconds(1);
                if (watch.Elapsed + needed > cap)
                {
                    report.StopReason = FormattableString.Invariant($"duration cap ({cap.TotalSeconds:0} s) reached before {StepStats.Describe(simulation)}");
                    stopped = true;
                    break;
                }

                if (cancellationToken.IsCancellationRequested)
                {
                    report.StopReason = "cancelled";
                    stopped = true;
                    break;
                }

                var stats = await RunStageAsync(runner, simulation, phase, criteria, phase == "step" ? probe : null, console, cancellationToken).ConfigureAwait(false);
                var decision = phase is "warmup" or "smoke" ? StepDecision.Next : StepSearch.Decide(stats.Passed, attempt, profile.Steps.Retries);
                if (decision == StepDecision.Next)
                {
                    console?.WriteLine(TableFormatter.ConsoleRow(stats));
                    report.Steps.Add(stats);
                    if (phase == "step")
                    {
                        measured.Add(stats);
                    }

                    break;
                }

                if (decision == StepDecision.Retry)
                {
                    stats = stats with { Phase = "retried" };
                    console?.WriteLine(TableFormatter.ConsoleRow(stats));
                    report.Steps.Add(stats);
                    continue;
                }

                console?.WriteLine(TableFormatter.ConsoleRow(stats));
                report.Steps.Add(stats);
                measured.Add(stats);
                report.StopReason = stats.ErrorRate >= criteria.MaxErrorRate
                    ? FormattableString.Invariant($"errors {stats.ErrorRate:P2} at {StepStats.Describe(simulation)}")
                    : FormattableString.Invariant($"p99 {stats.Latency.P99:0.00} ms > {criteria.P99Ms} ms at {StepStats.Describe(simulation)}");
                if (stats.SendLag.P99 > criteria.P99Ms / 2)
                {
                    // The generator itself was late: the limit found may be the generator's or the machine's, not the target's.
                    report.StopReason += FormattableString.Invariant($" (generator late: send lag p99 {stats.SendLag.P99:0.00} ms)");
                }

                stopped = true;
                break;
            }
        }

        report.MaxPassingRate = options.Smoke ? null : StepSearch.MaxPassingRate(measured, criteria);
        report.ElapsedSeconds = watch.Elapsed.TotalSeconds;
        report.LoadAverage = loadAtStart + " -> " + SuiteReport.ReadLoadAverage();
        console?.WriteLine(FormattableString.Invariant($"   max passing rate: {(report.MaxPassingRate is { } r ? r.ToString("0", System.Globalization.CultureInfo.InvariantCulture) + "/s" : "none")} ({report.StopReason})"));
        return report;
    }

    private static async Task<StepStats> RunStageAsync(StageRunner runner, LoadSimulation simulation, string phase, SloCriteria criteria, FreshnessProbe? probe,
        TextWriter? console, CancellationToken cancellationToken)
    {
        using var self = Process.GetCurrentProcess();
        var cpuBefore = self.TotalProcessorTime;
        var wallBefore = Stopwatch.GetTimestamp();
        var probing = probe?.RunStepAsync(simulation.During, cancellationToken);
        var samples = await Task.Factory.StartNew(() => runner.Run(simulation, p => Progress(console, p), cancellationToken),
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        var freshness = probing is null ? null : await probing.ConfigureAwait(false);
        self.Refresh();
        var cpu = (self.TotalProcessorTime - cpuBefore).TotalSeconds / Stopwatch.GetElapsedTime(wallBefore).TotalSeconds * 100;
        var stats = StepStats.From(samples, phase);
        // A smoke stage checks correctness only: it passes when nothing failed, whatever the latency.
        return stats with { Passed = phase == "smoke" ? stats.Errors == 0 : criteria.Passes(stats), GeneratorCpuPercent = cpu, Freshness = freshness };
    }

    /// <summary>The stages of a profile: warm-up then steps, or the single smoke stage.</summary>
    public static List<(string Phase, LoadSimulation Simulation)> Stages(LoadProfile profile, bool smoke)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var second = TimeSpan.FromSeconds(1);
        var stages = new List<(string, LoadSimulation)>();
        if (smoke)
        {
            stages.Add(("smoke", Simulation.Inject(profile.Smoke.Rate, second, TimeSpan.FromSeconds(profile.Smoke.Seconds))));
            return stages;
        }

        if (profile.Model == "closed")
        {
            if (profile.Warmup.Seconds > 0)
            {
                stages.Add(("warmup", Simulation.KeepConstant(profile.Closed.Copies[0], TimeSpan.FromSeconds(profile.Warmup.Seconds))));
            }

            foreach (var copies in profile.Closed.Copies)
            {
                stages.Add(("step", Simulation.KeepConstant(copies, TimeSpan.FromSeconds(profile.Closed.Seconds))));
            }

            return stages;
        }

        if (profile.Warmup.Seconds > 0 && profile.Warmup.Rate > 0)
        {
            stages.Add(("warmup", Simulation.RampingInject(0, profile.Warmup.Rate, second, TimeSpan.FromSeconds(profile.Warmup.Seconds))));
        }

        foreach (var rate in profile.Steps.Rates)
        {
            stages.Add(("step", Simulation.Inject(rate, second, TimeSpan.FromSeconds(profile.Steps.Seconds))));
        }

        return stages;
    }

    /// <summary>Waits until every target's <c>/health/ready</c> answers 200.</summary>
    internal static async Task WaitReadyAsync(HttpLoadTransport transport, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var last = "no answer";
        var ready = 0;
        // Bounded by the deadline; one attempt every 250 ms.
        while (Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                var (status, _) = await transport.ExchangeAsync(ready, HttpMethod.Get, "/health/ready", null, cancellationToken).ConfigureAwait(false);
                if (status == 200)
                {
                    if (++ready == transport.Targets.Count)
                    {
                        return;
                    }

                    continue; // the next target, at once
                }

                last = transport.Targets[ready] + ": status " + status;
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }

            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }

        throw new InvalidOperationException("target not ready: GET /health/ready gave " + last + " for " + timeout.TotalSeconds + " s");
    }

    private static void Progress(TextWriter? console, StageProgress p) =>
        console?.WriteLine(FormattableString.Invariant($"   .. {p.ElapsedSeconds,5:0.0}s sent {p.Sent} done {p.Completed} errors {p.Errors} in flight {p.InFlight}"));
}
