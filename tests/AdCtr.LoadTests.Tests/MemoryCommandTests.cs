using System.Text.Json;
using AdCtr.LoadTests.Cli;
using AdCtr.LoadTests.Memory;
using AdCtr.LoadTests.Profiles;

namespace AdCtr.LoadTests.Tests;

public class MemoryCommandTests
{
    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await LoadCli.Build(output, error, (_, _) => Task.CompletedTask).Parse(args).InvokeAsync();
        return (exit, output.ToString(), error.ToString());
    }

    private static string TempDir() => Path.Combine(Path.GetTempPath(), "adctr-load-memory-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData("--target", "http://10.1.2.3:5080")]
    [InlineData("--campaigns", "0")]
    [InlineData("--examples-per-campaign", "10001")]
    [InlineData("--batch", "0")]
    public async Task Memory_InvalidArgument_UsageErrorWithoutContactingTheTarget(string option, string value)
    {
        var args = new List<string> { "memory", "--target", "http://127.0.0.1:9", "--ready-timeout", "0" };
        var i = args.IndexOf(option);
        if (i >= 0)
        {
            args[i + 1] = value;
        }
        else
        {
            args.AddRange([option, value]);
        }

        var (exit, _, error) = await RunAsync([.. args]);

        Assert.Equal(LoadCli.UsageError, exit);
        Assert.StartsWith("adctr-load: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Memory_AgainstFakeServer_ReportsExactFiguresAndOnlyThisRunsCampaigns()
    {
        await using var server = await FakeAdCtrServer.StartAsync();
        var dir = TempDir();
        try
        {
            string[] args = ["memory", "--target", server.Url, "--campaigns", "30", "--examples-per-campaign", "5", "--batch", "40", "--out", dir];
            var (first, _, _) = await RunAsync(args);
            // A second run: a new campaign prefix (each run id is new), so the first run's 30 campaigns are on the server but not counted.
            var (exit, output, error) = await RunAsync(args);

            Assert.Equal((0, 0, ""), (first, exit, error));
            var report = MemoryReport.FromJson(await File.ReadAllTextAsync(Path.Combine(dir, "memory.json")));
            // 30 x 5 = 150 examples in batches of 40, 40, 40, 30; every example of campaign k mod 30.
            Assert.Equal((150L, 150L, 0), (report.ExamplesSent, report.ExamplesAccepted, report.BatchErrors));
            Assert.Equal(300, server.ExampleLines);
            // The fake reports 2 coefficients (96 bytes) per example: 10 per campaign, 480 bytes each.
            Assert.Equal((30, 10.0, 10L, 10L, 30L * 480), (report.CampaignsFound, report.MeanCoordinatesPerCampaign, report.MinCoordinatesPerCampaign,
                report.MaxCoordinatesPerCampaign, report.CampaignModelBytes));
            Assert.Equal(new ModelSizes(7, 1024, 30, 300, 300 * 48), report.ModelsBefore);
            Assert.Equal(new ModelSizes(7, 1024, 60, 600, 600 * 48), report.ModelsAfter);
            // Working set 1e8 + 1,000 B per example: 150 before, 300 after; the second reading equals the first, so 2 readings.
            Assert.Equal(new MemorySample(100_150_000, 16_000, null), report.Before);
            Assert.Equal(new MemorySample(100_300_000, 31_000, null), report.After);
            Assert.Equal(2, report.SettleReadings);
            Assert.Equal(150_000, report.RssDeltaBytes);
            Assert.Equal(5_000, report.RssPerCampaignBytes);
            var markdown = await File.ReadAllTextAsync(Path.Combine(dir, "memory.md"));
            Assert.Contains("| server RSS growth per campaign | 5000 B |", markdown, StringComparison.Ordinal);
            Assert.Contains("| campaigns (requested / found on the server) | 30 / 30 |", markdown, StringComparison.Ordinal);
            Assert.Contains("memory.md", output, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void MemorySampleParse_PrometheusText_WorkingSetHeapSumAndCommitted()
    {
        const string text = """
            # HELP dotnet_process_memory_working_set_bytes The number of bytes of physical memory mapped to the process context.
            # TYPE dotnet_process_memory_working_set_bytes gauge
            dotnet_process_memory_working_set_bytes 149975040
            dotnet_gc_last_collection_heap_size_bytes{gc_heap_generation="gen0"} 146048
            dotnet_gc_last_collection_heap_size_bytes{gc_heap_generation="loh"} 75303504 1700000000000
            dotnet_gc_last_collection_memory_committed_size_bytes 7.8618624e7
            dotnet_process_memory_working_set_bytes_other 1
            """;

        Assert.Equal(new MemorySample(149_975_040, 146_048 + 75_303_504, 78_618_624), MemorySample.Parse(text));
        // Without the runtime's working set, the standard process_resident_memory_bytes is used.
        Assert.Equal(new MemorySample(42, null, null), MemorySample.Parse("process_resident_memory_bytes 42\n"));
    }

    [Fact]
    public void RichExamples_200PerCampaign_EveryCampaignEvenAndCoordinatesNearTheExpectation()
    {
        var factory = new BodyFactory(11, new DataSpec(), DateTimeOffset.UnixEpoch);
        var distinct = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var examples = new Dictionary<string, int>(StringComparer.Ordinal);
        // 3 campaigns x 200 examples in batches of 100 (the batch boundary must not break the k mod 3 assignment).
        for (var first = 0; first < 600; first += 100)
        {
            foreach (var line in System.Text.Encoding.UTF8.GetString(factory.RichExamples("m-", 3, first, 100)).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                using var doc = JsonDocument.Parse(line);
                var campaign = doc.RootElement.GetProperty("campaignId").GetString()!;
                examples[campaign] = examples.GetValueOrDefault(campaign) + 1;
                var set = distinct.TryGetValue(campaign, out var s) ? s : distinct[campaign] = [];
                foreach (var field in new[] { "user_age", "gender", "region", "device", "interest", "site", "position", "hour" })
                {
                    set.Add(field + "=" + doc.RootElement.GetProperty("context").GetProperty(field).GetString());
                }
            }
        }

        Assert.Equal(new Dictionary<string, int> { ["m-0"] = 200, ["m-1"] = 200, ["m-2"] = 200 }, examples);
        // The sim spec's campaign part: these fields plus the bias. Expected about 402; the spread of the count is
        // about 10 (binomial-like occupancy variances, mostly from the 1,000 sites), so +-10 % is 4 standard deviations.
        var expected = RichVocabulary.ExpectedCampaignCoordinates(200);
        Assert.InRange(expected, 395, 410);
        foreach (var set in distinct.Values)
        {
            Assert.InRange(set.Count + 1, expected * 0.9, expected * 1.1);
        }
    }
}
