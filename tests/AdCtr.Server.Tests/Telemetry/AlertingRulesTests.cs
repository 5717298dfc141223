using System.Text.RegularExpressions;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Telemetry;

/// <summary>
/// config/prometheus/ under promtool: the rules load, their unit tests pass (tests/alerts_test.yml), every alert has
/// tests, and the scrape config is valid. A broken rule fails <c>dotnet test</c>, hence CI.
/// </summary>
public sealed class AlertingRulesTests
{
    private static string Directory => Path.Combine(RepoPaths.Config, "prometheus");

    [Fact]
    public async Task CheckRules_Alerts_AreValid()
    {
        var (exit, output) = await Promtool.RunAsync(["check", "rules", "alerts.yml"], workingDirectory: Directory);
        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS: 7 rules found", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestRules_EveryAlertsUnitTest_Passes()
    {
        var (exit, output) = await Promtool.RunAsync(["test", "rules", Path.Combine("tests", "alerts_test.yml")], workingDirectory: Directory);
        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_ScrapeConfig_IsValid()
    {
        var (exit, output) = await Promtool.RunAsync(["check", "config", "prometheus.yml"], workingDirectory: Directory);
        Assert.True(exit == 0, output);
    }

    [Fact]
    public void Tests_EveryAlert_HasAFiringAndASilentCase()
    {
        var alerts = Regex.Matches(File.ReadAllText(Path.Combine(Directory, "alerts.yml")), @"^\s*- alert: (\w+)\s*$", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToArray();
        var tests = File.ReadAllText(Path.Combine(Directory, "tests", "alerts_test.yml"));
        Assert.Equal(7, alerts.Length);
        foreach (var alert in alerts)
        {
            // A firing case expects the alert's own labels; a silent case expects no alert at an evaluation time.
            Assert.Matches(new Regex(@"alertname: " + alert + @"\s+exp_alerts: \[\]"), tests);
            Assert.Matches(new Regex(@"alertname: " + alert + @"\s+exp_alerts:\s*\n\s*- exp_labels:"), tests);
        }
    }
}
