using System.Text;
using System.Text.Json;
using AdCtr.LoadTests.Engine;
using AdCtr.LoadTests.Profiles;
using AdCtr.LoadTests.Reports;

namespace AdCtr.LoadTests.Tests;

/// <summary>
/// The server side of a probe in virtual time: explain takes <see cref="ExplainTicks"/>, examples
/// <see cref="ExampleTicks"/>; a learned campaign shows in explain answers only from the
/// <see cref="ShowOnCheck"/>-th explain after its example (0: never), to simulate a lagging server.
/// </summary>
internal sealed class StubProbeServer(VirtualClock clock)
{
    private readonly Dictionary<string, int> _checksSinceLearned = new(StringComparer.Ordinal);

    public long ExplainTicks { get; init; } = 200;

    public long ExampleTicks { get; init; } = 500;

    public int ShowOnCheck { get; init; } = 1;

    public int ExampleStatus { get; init; } = 200;

    public List<string> Calls { get; } = [];

    public Task<(int Status, byte[] Body)> CallAsync(LoadRequest request, CancellationToken cancellationToken)
    {
        if (request.Path == "/v1/examples")
        {
            clock.WaitUntil(clock.GetTimestamp() + ExampleTicks);
            var line = JsonDocument.Parse(Encoding.UTF8.GetString(request.Body).TrimEnd('\n')).RootElement;
            var campaign = line.GetProperty("campaignId").GetString()!;
            Calls.Add("examples " + campaign + " label " + line.GetProperty("label").GetInt32());
            if (ExampleStatus != 200)
            {
                return Task.FromResult((ExampleStatus, Array.Empty<byte>()));
            }

            _checksSinceLearned.TryAdd(campaign, 0);
            return Task.FromResult((200, """{"accepted":1,"rejected":[]}"""u8.ToArray()));
        }

        clock.WaitUntil(clock.GetTimestamp() + ExplainTicks);
        var candidate = JsonDocument.Parse(request.Body).RootElement.GetProperty("candidates")[0];
        var id = candidate.GetProperty("campaignId").GetString()!;
        Calls.Add("explain " + id);
        var shown = false;
        if (_checksSinceLearned.TryGetValue(id, out var checks))
        {
            _checksSinceLearned[id] = ++checks;
            shown = ShowOnCheck > 0 && checks >= ShowOnCheck;
        }

        var body = shown
            ? """{"campaignModel":true,"global":[],"campaign":[{"name":"bias","value":1,"weight":0,"contribution":0}]}"""
            : """{"campaignModel":false,"global":[],"campaign":[]}""";
        return Task.FromResult((200, Encoding.UTF8.GetBytes(body)));
    }
}

public class FreshnessProbeTests
{
    private static readonly FreshnessSpec Spec = new() { IntervalMs = 250, MaxChecks = 3, RetryDelayMs = 5 };

    private static FreshnessProbe Probe(VirtualClock clock, StubProbeServer server, string runId = "t") =>
        new(Spec, new BodyFactory(9, new DataSpec(), DateTimeOffset.UnixEpoch), runId, clock, server.CallAsync,
            (t, _) =>
            {
                clock.WaitUntil(t);
                return Task.CompletedTask;
            });

    [Fact]
    public async Task ProbeOnce_ServerShowsExampleAtOnce_ReflectedOnFirstCheck()
    {
        var clock = new VirtualClock();
        var server = new StubProbeServer(clock);

        var result = await Probe(clock, server).ProbeOnceAsync(CancellationToken.None);

        // Explain (must be unseen), one label-1 example of the same campaign, one explain that shows it.
        Assert.Equal(["explain probe-t-1", "examples probe-t-1 label 1", "explain probe-t-1"], server.Calls);
        // Ack = the example's 500 us; lag = one explain of 200 us (virtual clock in microseconds).
        Assert.Equal(new ProbeResult(null, 0.5, 0.2, 1), result);
        Assert.True(result.ReflectedOnFirstCheck);
    }

    [Fact]
    public async Task ProbeOnce_ServerShowsExampleOnThirdCheck_LagCountsChecksAndRetryDelays()
    {
        var clock = new VirtualClock();
        var server = new StubProbeServer(clock) { ShowOnCheck = 3 };

        var result = await Probe(clock, server).ProbeOnceAsync(CancellationToken.None);

        // From the ack: 3 explains of 200 us and the 2 retry delays of 5 ms between them = 10,600 us.
        Assert.Equal(new ProbeResult(null, 0.5, 10.6, 3), result);
        Assert.False(result.ReflectedOnFirstCheck);
    }

    [Fact]
    public async Task ProbeOnce_ServerNeverShowsExample_NotReflectedAfterMaxChecks()
    {
        var clock = new VirtualClock();
        var server = new StubProbeServer(clock) { ShowOnCheck = 0 };

        var result = await Probe(clock, server).ProbeOnceAsync(CancellationToken.None);

        Assert.Equal(new ProbeResult(null, 0.5, null, 3), result);
        // 1 explain before, the example, then exactly MaxChecks (3) explains: the retries are bounded.
        Assert.Equal(5, server.Calls.Count);
        var stats = FreshnessStats.From([result]);
        Assert.Equal((1, 0, 0, 1, 0), (stats.Probes, stats.ReflectedOnFirstCheck, stats.Reflected, stats.NotReflected, stats.Errors));
        Assert.Equal(0, stats.Lag.Count);
    }

    [Fact]
    public async Task ProbeOnce_CampaignAlreadyKnown_ErrorWithoutSendingTheExample()
    {
        var clock = new VirtualClock();
        var server = new StubProbeServer(clock);
        await Probe(clock, server, runId: "same").ProbeOnceAsync(CancellationToken.None);
        server.Calls.Clear();

        // A second probe with the same run id picks probe-same-1 again, which the server has learned.
        var result = await Probe(clock, server, runId: "same").ProbeOnceAsync(CancellationToken.None);

        Assert.Equal("campaign-not-new", result.Problem);
        Assert.Equal(["explain probe-same-1"], server.Calls);
    }

    [Fact]
    public async Task ProbeOnce_ExamplesFail_ErrorKindNamesTheStatus()
    {
        var clock = new VirtualClock();
        var server = new StubProbeServer(clock) { ExampleStatus = 503 };

        var result = await Probe(clock, server).ProbeOnceAsync(CancellationToken.None);

        Assert.Equal("examples-http-503", result.Problem);
        Assert.Null(result.LagMs);
    }

    [Fact]
    public async Task RunStep_OneSecondEvery250Ms_FourProbesOnScheduleWithDistinctCampaigns()
    {
        var clock = new VirtualClock();
        var server = new StubProbeServer(clock);
        var probe = Probe(clock, server);

        var stats = await probe.RunStepAsync(TimeSpan.FromSeconds(1), CancellationToken.None);

        // floor(1000 / 250) = 4 probes, each reflected on its first check.
        Assert.Equal((4, 4, 4, 0, 0), (stats.Probes, stats.ReflectedOnFirstCheck, stats.Reflected, stats.NotReflected, stats.Errors));
        Assert.Equal(["probe-t-1", "probe-t-2", "probe-t-3", "probe-t-4"],
            server.Calls.Where(c => c.StartsWith("examples", StringComparison.Ordinal)).Select(c => c.Split(' ')[1]));
        // Every ack took 500 us and every lag one explain (200 us), so all quantiles are those values.
        Assert.Equal((0.5, 0.5, 0.2, 0.2, 0.2), (stats.Ack.P50, stats.Ack.P99, stats.Lag.P50, stats.Lag.P99, stats.Lag.Max));
        // The last probe starts at 750 ms and takes 900 us (2 explains + 1 example).
        Assert.Equal(750_900, clock.GetTimestamp());
    }

    [Fact]
    public async Task RunStep_ProbesSlowerThanInterval_NoProbeStartsAfterTheStep()
    {
        var clock = new VirtualClock();
        // Each probe takes 2 x 200 ms + 300 ms = 700 ms, longer than the 250 ms interval.
        var server = new StubProbeServer(clock) { ExplainTicks = 200_000, ExampleTicks = 300_000 };

        var stats = await Probe(clock, server).RunStepAsync(TimeSpan.FromSeconds(1), CancellationToken.None);

        // Probes start at 0 and 700 ms; the third would start at 1,400 ms, after the 1 s step.
        Assert.Equal(2, stats.Probes);
        Assert.Equal((300.0, 200.0), (stats.Ack.Max, stats.Lag.Max));
    }

    [Fact]
    public void Markdown_StepWithFreshness_HasTheFreshnessTableAndJsonKeepsIt()
    {
        var freshness = FreshnessStats.From([new ProbeResult(null, 0.5, 0.2, 1), new ProbeResult(null, 0.7, null, 20), new ProbeResult("explain-http-500", 0, null, 1)]);
        var scenario = new ScenarioReport { Name = "mixed", Role = "server", TargetUrl = "http://127.0.0.1:1/", Model = "open" };
        scenario.Steps.Add(new StepStats
        {
            Phase = "step",
            Simulation = "Inject(1000, 1s, 8s)",
            OfferedRate = 1000,
            DurationSeconds = 8,
            Requests = 8000,
            AchievedRate = 1000,
            Errors = 0,
            ErrorRate = 0,
            ErrorsByKind = new Dictionary<string, int>(),
            Latency = new LatencySummary(1, 1, 1, 1, 1, 1, 1),
            Service = LatencySummary.Empty,
            SendLag = LatencySummary.Empty,
            Passed = true,
            Freshness = freshness,
        });
        var report = new SuiteReport { StartedAt = DateTimeOffset.UnixEpoch, Machine = "test" };
        report.Scenarios.Add(scenario);

        var markdown = TableFormatter.Markdown(report);
        var back = SuiteReport.FromJson(report.ToJson()).Scenarios[0].Steps[0].Freshness;

        // 3 probes: 1 reflected at once, 1 not reflected, 1 error; ack quantiles over the 2 completed probes
        // (type 7: p50 of {0.5, 0.7} = 0.6, p99 = 0.5 + 0.99 x 0.2 = 0.698).
        Assert.Contains("| step | Inject(1000, 1s, 8s) | 3 | 1 | 1 | explain-http-500:1 | 0.60 | 0.70 | 0.20 | 0.20 | 0.20 |", markdown, StringComparison.Ordinal);
        Assert.NotNull(back);
        Assert.Equal((3, 1, 1, 1, 1), (back.Probes, back.ReflectedOnFirstCheck, back.Reflected, back.NotReflected, back.Errors));
        Assert.Equal(0.2, back.Lag.Max);
    }

    [Fact]
    public void MixedProfile_HasFreshnessEvery500Ms()
    {
        var profile = LoadProfile.Load(Path.Combine(ProfileTests.ProfileDirectory(), "mixed.json"));

        Assert.Equal(new FreshnessSpec { IntervalMs = 500, MaxChecks = 20, RetryDelayMs = 5 }, profile.Freshness);
    }
}
