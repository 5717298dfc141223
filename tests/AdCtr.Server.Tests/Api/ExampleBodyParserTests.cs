using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Server.Api;
using AdCtr.Server.Hosting;
using AdCtr.Server.Model;
using AdCtr.Server.Tests.Durability;

namespace AdCtr.Server.Tests.Api;

/// <summary>The parser's pool of results: reuse must never leak one request's examples or rejections into another.</summary>
public sealed class ExampleBodyParserTests
{
    private static CtrEngine NewEngine()
    {
        var spec = FeatureSpec.Load(Path.Combine(AppContext.BaseDirectory, "config", "features.sim.json")).WithBits(18);
        return new CtrEngine(spec, new ModelOptions { Bits = 18 }, new LimitsOptions(), new CalibrationOptions { Kind = CalibrationKind.None }, TimeProvider.System);
    }

    private static byte[] Body(int seed, int batch, int size, string extra = "") =>
        Encoding.UTF8.GetBytes(ExampleData.Batch(seed, batch, size) + extra);

    [Fact]
    public void Parse_AfterADisposedResult_ParsesTheNewBodyOnly_AndLeavesTheOldRejectionsAlone()
    {
        var engine = NewEngine();
        var first = ExampleBodyParser.Parse(engine, Body(1, 0, 50, "{\"not\":\"an example\"}\n"));
        Assert.Null(first.Error);
        Assert.Equal(50, first.Batch.Count);
        var rejected = first.Rejected;
        Assert.Single(rejected);
        first.Dispose();

        // A smaller body after a larger one: nothing of the first may remain (counts, ids, lines, rejections).
        using var second = ExampleBodyParser.Parse(engine, Body(2, 0, 7));
        Assert.Null(second.Error);
        Assert.Equal(7, second.Batch.Count);
        Assert.Equal(7, second.Lines.Count);
        Assert.Empty(second.Rejected);
        Assert.NotSame(rejected, second.Rejected);
        Assert.Single(rejected); // a response may still be writing the first request's list

        using var fresh = ExampleBodyParser.Parse(engine, Body(2, 0, 7));
        for (var i = 0; i < 7; i++)
        {
            Assert.Equal(fresh.Batch.Label(i), second.Batch.Label(i));
            Assert.Equal(fresh.Batch.CampaignKey(i), second.Batch.CampaignKey(i));
            Assert.Equal(fresh.Batch.GlobalIndices(i).ToArray(), second.Batch.GlobalIndices(i).ToArray());
            Assert.Equal(fresh.Batch.CampaignIndices(i).ToArray(), second.Batch.CampaignIndices(i).ToArray());
        }

        Assert.Equal(fresh.CampaignIds.OrderBy(p => p.Key), second.CampaignIds.OrderBy(p => p.Key));
    }

    [Fact]
    public void Parse_AfterAnAbandonedResult_NeverHandsOutItsBatch()
    {
        var engine = NewEngine();
        var abandoned = ExampleBodyParser.Parse(engine, Body(3, 0, 20));
        var batch = abandoned.Batch;
        var before = Enumerable.Range(0, batch.Count).Select(i => batch.GlobalIndices(i).ToArray()).ToArray();
        abandoned.Abandon();
        abandoned.Dispose();

        // A grain call that timed out may still read the abandoned batch: later parses must not write into it.
        for (var k = 0; k < 40; k++)
        {
            using var other = ExampleBodyParser.Parse(engine, Body(4, k, 20));
            Assert.NotSame(batch, other.Batch);
        }

        Assert.Equal(20, batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            Assert.Equal(before[i], batch.GlobalIndices(i).ToArray());
        }
    }
}
