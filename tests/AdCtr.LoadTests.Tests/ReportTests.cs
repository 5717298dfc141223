using AdCtr.LoadTests.Engine;
using AdCtr.LoadTests.Reports;

namespace AdCtr.LoadTests.Tests;

public class ReportTests
{
    private static StepStats Step(double achieved) => new()
    {
        Phase = "step",
        Simulation = "Inject",
        OfferedRate = achieved,
        DurationSeconds = 1,
        Requests = (int)achieved,
        AchievedRate = achieved,
        Errors = 0,
        ErrorRate = 0,
        ErrorsByKind = new Dictionary<string, int>(),
        Latency = new LatencySummary(1, 1, 1, 1, 1, 1, 1),
        Service = LatencySummary.Empty,
        SendLag = LatencySummary.Empty,
        Passed = true,
    };

    private static SuiteReport Suite(params ScenarioReport[] scenarios)
    {
        var report = new SuiteReport { StartedAt = DateTimeOffset.UnixEpoch, Machine = "test" };
        report.Scenarios.AddRange(scenarios);
        return report;
    }

    [Fact]
    public void ApplyBaseline_BaselineInSession_RatiosAgainstItsMaxRate()
    {
        var baseline = new ScenarioReport { Name = "baseline", Role = "baseline", TargetUrl = "http://127.0.0.1:1/", Model = "open", MaxPassingRate = 10_000 };
        var server = new ScenarioReport { Name = "predict-1", Role = "server", TargetUrl = "http://127.0.0.1:2/", Model = "open", MaxPassingRate = 2_500 };
        server.Steps.Add(Step(2_000));
        var report = Suite(baseline, server);

        report.ApplyBaseline();

        Assert.Equal(10_000, report.BaselineMaxRate);
        Assert.Equal(0.25, server.RatioToBaseline);
        Assert.Equal(0.2, server.Steps[0].RatioToBaseline);
        Assert.Equal(1.0, baseline.RatioToBaseline);
    }

    [Fact]
    public void ApplyBaseline_NoBaseline_LeavesRatiosEmptyUnlessAnEarlierOneIsGiven()
    {
        var server = new ScenarioReport { Name = "predict-1", Role = "server", TargetUrl = "http://127.0.0.1:2/", Model = "open", MaxPassingRate = 3_000 };
        var report = Suite(server);

        report.ApplyBaseline();
        Assert.Null(report.BaselineMaxRate);
        Assert.Null(server.RatioToBaseline);

        report.ApplyBaseline(earlierBaseline: 12_000);
        Assert.Equal(0.25, server.RatioToBaseline);
    }

    [Fact]
    public void Json_RoundTrip_KeepsTheFigures()
    {
        var server = new ScenarioReport { Name = "predict-1", Role = "server", TargetUrl = "http://127.0.0.1:2/", Model = "open", MaxPassingRate = 3_000 };
        server.Steps.Add(Step(1_500));
        var report = Suite(server);

        var back = SuiteReport.FromJson(report.ToJson());

        Assert.Equal(3_000, back.Scenarios[0].MaxPassingRate);
        Assert.Equal(1_500, back.Scenarios[0].Steps[0].AchievedRate);
        Assert.True(double.IsNaN(back.Scenarios[0].Steps[0].Service.P99));
    }
}
