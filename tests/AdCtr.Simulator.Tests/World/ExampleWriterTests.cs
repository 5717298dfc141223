using System.Text;
using System.Text.Json;
using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Tests.World;

public class ExampleWriterTests
{
    [Theory]
    [InlineData("stationary")]
    [InlineData("drift")]
    [InlineData("shock")]
    [InlineData("cold-start")]
    [InlineData("delayed-clicks")]
    [InlineData("imbalanced")]
    public void Ndjson_SameSeed_IsByteIdenticalAndOtherSeedDiffers(string name)
    {
        var scenario = TestScenarios.Load(name);
        var a = TestScenarios.WriteExamples(AdWorld.Create(scenario, 7), 10_000, ExampleFormat.Ndjson);
        var b = TestScenarios.WriteExamples(AdWorld.Create(scenario, 7), 10_000, ExampleFormat.Ndjson);
        var c = TestScenarios.WriteExamples(AdWorld.Create(scenario, 8), 10_000, ExampleFormat.Ndjson);
        Assert.Equal(10_000, a.Count(x => x == (byte)'\n'));
        Assert.True(a.AsSpan().SequenceEqual(b));
        Assert.False(a.AsSpan().SequenceEqual(c));
    }

    [Fact]
    public void Ndjson_Line_HasTheProjectExampleFieldsInOrder()
    {
        var bytes = TestScenarios.WriteExamples(TestScenarios.World("stationary"), 50, ExampleFormat.Ndjson);
        var lines = Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(50, lines.Length);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            Assert.Equal(
                ["timestamp", "label", "weight", "campaignId", "adId", "advertiserId", "context", "features", "trueCtr"],
                root.EnumerateObject().Select(p => p.Name).ToArray());
            Assert.Equal(
                ["user_age", "gender", "region", "device", "interest", "site", "position", "hour", "weekday"],
                root.GetProperty("context").EnumerateObject().Select(p => p.Name).ToArray());
            Assert.Equal(["ad_category"], root.GetProperty("features").EnumerateObject().Select(p => p.Name).ToArray());
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", root.GetProperty("timestamp").GetString());
            var time = root.GetProperty("timestamp").GetDateTime().ToUniversalTime();
            Assert.Equal(time.Hour.ToString(System.Globalization.CultureInfo.InvariantCulture), root.GetProperty("context").GetProperty("hour").GetString());
            Assert.Equal(1, root.GetProperty("weight").GetDouble());
            Assert.Matches(@"^c\d+-a\d+$", root.GetProperty("adId").GetString());
            Assert.StartsWith(root.GetProperty("campaignId").GetString() + "-", root.GetProperty("adId").GetString(), StringComparison.Ordinal);
            Assert.InRange(root.GetProperty("trueCtr").GetDouble(), 1e-9, 1);
        }
    }

    [Fact]
    public void Ndjson_DelayedClicks_WritesDelayOnClicksOnly()
    {
        var bytes = TestScenarios.WriteExamples(TestScenarios.World("delayed-clicks"), 5_000, ExampleFormat.Ndjson);
        var clicks = 0;
        foreach (var line in Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line);
            var isClick = doc.RootElement.GetProperty("label").GetInt32() == 1;
            clicks += isClick ? 1 : 0;
            Assert.Equal(isClick, doc.RootElement.TryGetProperty("clickDelaySeconds", out var delay));
            if (isClick)
            {
                Assert.True(delay.GetDouble() > 0);
            }
        }

        Assert.True(clicks > 0);
    }

    [Fact]
    public void Criteo_EveryLine_HasFortyTabSeparatedColumns()
    {
        var bytes = TestScenarios.WriteExamples(TestScenarios.World("stationary"), 2_000, ExampleFormat.Criteo);
        var lines = Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2_000, lines.Length);
        foreach (var line in lines)
        {
            var columns = line.Split('\t');
            Assert.Equal(CriteoExampleWriter.ColumnCount, columns.Length);
            Assert.Contains(columns[0], new[] { "0", "1" });
            Assert.InRange(int.Parse(columns[1], System.Globalization.CultureInfo.InvariantCulture), 0, 23);
            Assert.InRange(int.Parse(columns[2], System.Globalization.CultureInfo.InvariantCulture), 1, 4);
            Assert.InRange(int.Parse(columns[3], System.Globalization.CultureInfo.InvariantCulture), 1, 7);
            for (var i = 4; i <= 13; i++)
            {
                Assert.Equal("", columns[i]);
            }

            for (var i = 14; i < 24; i++)
            {
                Assert.Matches("^[0-9a-f]{8}$", columns[i]);
            }

            for (var i = 24; i < 40; i++)
            {
                Assert.Equal("", columns[i]);
            }
        }
    }

    [Fact]
    public void HashCategorical_KnownInput_MatchesFnv1a()
    {
        // FNV-1a 32 of the UTF-16 code units of "C1=c17", computed by hand-written reference (each code unit is
        // below 0x80, so it equals FNV-1a of the ASCII bytes "C1=c17").
        var expected = 2166136261u;
        foreach (var b in "C1=c17"u8)
        {
            expected = (expected ^ b) * 16777619u;
        }

        Assert.Equal(expected, CriteoExampleWriter.HashCategorical(1, "c17"));
        Assert.NotEqual(CriteoExampleWriter.HashCategorical(1, "c17"), CriteoExampleWriter.HashCategorical(2, "c17"));
        Assert.NotEqual(CriteoExampleWriter.HashCategorical(1, "c17"), CriteoExampleWriter.HashCategorical(11, "c17"));
    }
}
