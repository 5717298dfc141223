using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Tests.World;

public class ScenarioCatalogTests
{
    [Theory]
    [InlineData("stationary")]
    [InlineData("drift")]
    [InlineData("shock")]
    [InlineData("cold-start")]
    [InlineData("delayed-clicks")]
    [InlineData("imbalanced")]
    public void LoadFile_ShippedScenario_LoadsWithItsFileName(string name)
    {
        var scenario = TestScenarios.Load(name);
        Assert.Equal(name, scenario.Name);
        Assert.Equal(DateTimeKind.Utc, scenario.Start.Kind);
    }

    [Fact]
    public void Resolve_UnknownName_ListsAvailableScenarios()
    {
        var ex = Assert.Throws<ScenarioException>(() => ScenarioCatalog.Resolve("no-such-scenario"));
        Assert.StartsWith("unknown scenario 'no-such-scenario'; available: ", ex.Message, StringComparison.Ordinal);
        foreach (var name in TestScenarios.Shipped)
        {
            Assert.Contains(name, ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Parse_BadValue_NamesKeyRuleAndValue()
    {
        var ex = Assert.Throws<ScenarioException>(() => ScenarioCatalog.Parse("""{ "candidatesPerRequest": 0 }""", "bad"));
        Assert.Equal("scenario 'bad': candidatesPerRequest must be in [1, 1000] (got 0)", ex.Message);
    }

    [Fact]
    public void Parse_NestedBadValue_NamesNestedKey()
    {
        var ex = Assert.Throws<ScenarioException>(() =>
            ScenarioCatalog.Parse("""{ "clickDelay": { "distribution": "weibull" } }""", "bad"));
        Assert.Equal("scenario 'bad': clickDelay.distribution must be one of lognormal, pareto, exponential (got weibull)", ex.Message);
    }

    [Fact]
    public void Parse_UnknownKey_IsRejectedWithItsName()
    {
        var ex = Assert.Throws<ScenarioException>(() => ScenarioCatalog.Parse("""{ "campaignz": 3 }""", "typo"));
        Assert.StartsWith("scenario 'typo': ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("campaignz", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Parse_ShockOutsideDuration_IsRejected()
    {
        var ex = Assert.Throws<ScenarioException>(() => ScenarioCatalog.Parse(
            """{ "start": "2026-01-05T00:00:00Z", "durationDays": 2, "shock": { "at": "2026-02-01T00:00:00Z" } }""", "late"));
        Assert.StartsWith("scenario 'late': shock.at must lie inside (start, start + durationDays)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EmptyObject_UsesDocumentedDefaults()
    {
        var scenario = ScenarioCatalog.Parse("{}", "defaults");
        Assert.Equal(100, scenario.Campaigns);
        Assert.Equal(5, scenario.CandidatesPerRequest);
        Assert.Equal(-4.0, scenario.Effects.BaseLogit);
        Assert.Equal(1.0, scenario.NegativeDownsampling);
        Assert.Null(scenario.Drift);
    }

    [Fact]
    public void Resolve_PathToMissingFile_SaysSo()
    {
        var ex = Assert.Throws<ScenarioException>(() => ScenarioCatalog.Resolve("/nonexistent/dir/x.json"));
        Assert.Equal("scenario file '/nonexistent/dir/x.json' does not exist", ex.Message);
    }
}
