using System.Net;
using System.Text;
using System.Text.Json;

namespace AdCtr.Server.Tests.ConsolePage;

/// <summary>The console's JSON feeds and files, through HTTP on loopback, with a clock the test moves.</summary>
public sealed class ConsoleApiTests
{
    [Fact]
    public async Task History_SampledOnTheHostClock_ReportsRatesAndIntervalFigures()
    {
        await using var server = await ConsoleServer.StartAsync();
        var traffic = new ConsoleTraffic(seed: 1);
        var start = await server.GetJsonAsync("/v1/models/history");
        Assert.Equal(5, start.GetProperty("intervalSeconds").GetDouble());
        Assert.Single(start.GetProperty("samples").EnumerateArray()); // the sample taken at start

        await server.PostExamplesAsync(traffic.Batch(600), 600);
        server.Clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Single((await server.GetJsonAsync("/v1/models/history")).GetProperty("samples").EnumerateArray()); // not due yet
        server.Clock.Advance(TimeSpan.FromSeconds(1));
        await server.PostExamplesAsync(traffic.Batch(300), 300);
        server.Clock.Advance(TimeSpan.FromSeconds(5));

        var samples = (await server.GetJsonAsync("/v1/models/history")).GetProperty("samples").EnumerateArray().ToArray();
        Assert.Equal(3, samples.Length);
        Assert.Equal(ConsoleServer.Start, samples[0].GetProperty("time").GetDateTimeOffset());
        Assert.Equal(ConsoleServer.Start.AddSeconds(5), samples[1].GetProperty("time").GetDateTimeOffset());
        Assert.Equal(ConsoleServer.Start.AddSeconds(10), samples[2].GetProperty("time").GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, samples[0].GetProperty("examplesPerSecond").ValueKind);
        Assert.Equal(new long[] { 0, 600, 900 }, samples.Select(s => s.GetProperty("version").GetInt64()));
        Assert.Equal(600 / 5.0, samples[1].GetProperty("examplesPerSecond").GetDouble());
        Assert.Equal(300 / 5.0, samples[2].GetProperty("examplesPerSecond").GetDouble());
        Assert.Equal(300, samples[2].GetProperty("intervalExamples").GetInt64());

        // The cumulative figures are those of /v1/models; the interval's are consistent with them: the log loss
        // since start is the example-weighted mean of the two intervals' (all weights are 1).
        var models = await server.GetJsonAsync("/v1/models");
        Assert.Equal(models.GetProperty("progressive").GetProperty("logLoss").GetDouble(), samples[2].GetProperty("logLoss").GetDouble());
        var first = samples[1].GetProperty("intervalLogLoss").GetDouble();
        var second = samples[2].GetProperty("intervalLogLoss").GetDouble();
        Assert.Equal(((600 * first) + (300 * second)) / 900, samples[2].GetProperty("logLoss").GetDouble(), 1e-12);
        Assert.Equal(first, samples[1].GetProperty("logLoss").GetDouble(), 1e-12);
    }

    [Fact]
    public async Task History_MoreSamplesThanTheRing_KeepsTheNewestOldestFirst()
    {
        await using var server = await ConsoleServer.StartAsync("--AdCtr:Console:HistoryLength=3");
        for (var i = 0; i < 5; i++)
        {
            server.Clock.Advance(TimeSpan.FromSeconds(5));
        }

        var history = await server.GetJsonAsync("/v1/models/history");
        Assert.Equal(3, history.GetProperty("capacity").GetInt32());
        var times = history.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("time").GetDateTimeOffset()).ToArray();
        Assert.Equal(new[] { 15, 20, 25 }.Select(s => ConsoleServer.Start.AddSeconds(s)), times);
        var last = await server.GetJsonAsync("/v1/models/history?limit=1");
        Assert.Equal(ConsoleServer.Start.AddSeconds(25), Assert.Single(last.GetProperty("samples").EnumerateArray()).GetProperty("time").GetDateTimeOffset());
    }

    [Fact]
    public async Task Reliability_AfterLearning_BinsOfEqualWeightCoverTheWindow()
    {
        await using var server = await ConsoleServer.StartAsync("--AdCtr:Calibration:Window=1000");
        var traffic = new ConsoleTraffic(seed: 2);
        await server.PostExamplesAsync(traffic.Batch(1500), 1500);

        var r = await server.GetJsonAsync("/v1/models/reliability?bins=8");
        Assert.Equal(1500, r.GetProperty("recorded").GetInt64());
        Assert.Equal(1000, r.GetProperty("windowCapacity").GetInt32());
        Assert.Equal(1000, r.GetProperty("examples").GetInt32()); // the last 1,000 of 1,500
        var bins = r.GetProperty("bins").EnumerateArray().ToArray();
        Assert.Equal(8, bins.Length); // continuous predictions: no ties merge bins
        Assert.Equal(1000, bins.Sum(b => b.GetProperty("examples").GetInt64()));
        // Equal weight: 1,000 unit-weight examples in 8 bins of 125 (ties could only move a few).
        Assert.All(bins, b => Assert.InRange(b.GetProperty("examples").GetInt64(), 120, 130));
        for (var i = 0; i < bins.Length; i++)
        {
            var mean = bins[i].GetProperty("meanPrediction").GetDouble();
            Assert.InRange(mean, bins[i].GetProperty("lower").GetDouble(), bins[i].GetProperty("upper").GetDouble());
            Assert.InRange(bins[i].GetProperty("observedRate").GetDouble(), 0, 1);
            if (i > 0)
            {
                Assert.True(bins[i].GetProperty("lower").GetDouble() >= bins[i - 1].GetProperty("upper").GetDouble());
            }
        }

        // The bins add up to the window's figures: weighted means of the bins' rates and predictions.
        var ctr = bins.Sum(b => b.GetProperty("observedRate").GetDouble() * b.GetProperty("weight").GetDouble()) / 1000;
        var mean0 = bins.Sum(b => b.GetProperty("meanPrediction").GetDouble() * b.GetProperty("weight").GetDouble()) / 1000;
        Assert.Equal(r.GetProperty("ctr").GetDouble(), ctr, 1e-12);
        Assert.Equal(r.GetProperty("meanPrediction").GetDouble(), mean0, 1e-12);
        Assert.Equal(mean0 / ctr, r.GetProperty("calibrationRatio").GetDouble(), 1e-9);
        Assert.InRange(r.GetProperty("auc").GetDouble(), 0.55, 1); // the model learned the age and device effects
    }

    [Fact]
    public async Task Reliability_FewerExamplesThanTheWindow_UsesTheNewest()
    {
        await using var server = await ConsoleServer.StartAsync("--AdCtr:Console:ReliabilityExamples=300");
        await server.PostExamplesAsync(new ConsoleTraffic(seed: 6).Batch(1500), 1500);
        var r = await server.GetJsonAsync("/v1/models/reliability?bins=3");
        Assert.Equal(1500, r.GetProperty("recorded").GetInt64());
        Assert.Equal(300, r.GetProperty("windowCapacity").GetInt32());
        Assert.Equal(300, r.GetProperty("examples").GetInt32());
        Assert.Equal(300, r.GetProperty("bins").EnumerateArray().Sum(b => b.GetProperty("examples").GetInt64()));
    }

    [Fact]
    public async Task Reliability_CalibrationOff_ReportsAnEmptyWindow()
    {
        await using var server = await ConsoleServer.StartAsync("--AdCtr:Calibration:Kind=None");
        await server.PostExamplesAsync(new ConsoleTraffic(seed: 3).Batch(100), 100);
        var r = await server.GetJsonAsync("/v1/models/reliability");
        Assert.Equal(0, r.GetProperty("windowCapacity").GetInt32());
        Assert.Equal(0, r.GetProperty("examples").GetInt32());
        Assert.Empty(r.GetProperty("bins").EnumerateArray());
    }

    [Fact]
    public async Task Campaigns_SortedByExamplesOrClicks_BusiestFirstAndPaged()
    {
        await using var server = await ConsoleServer.StartAsync();
        var traffic = new ConsoleTraffic(seed: 4);
        await server.PostExamplesAsync(traffic.Batch(3000), 3000);
        var busiest = traffic.PerCampaign.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).ToArray();

        var page = await server.GetJsonAsync("/v1/campaigns?sort=examples&limit=3");
        Assert.Equal(ConsoleTraffic.Campaigns.Length, page.GetProperty("total").GetInt32());
        var top = page.GetProperty("campaigns").EnumerateArray().ToArray();
        Assert.Equal(busiest.Take(3).Select(p => (p.Key, (long)p.Value)), top.Select(c => (c.GetProperty("campaignId").GetString()!, c.GetProperty("examples").GetInt64())));

        var next = (await server.GetJsonAsync("/v1/campaigns?sort=examples&offset=3&limit=10")).GetProperty("campaigns").EnumerateArray().ToArray();
        Assert.Equal(busiest.Skip(3).Select(p => p.Key), next.Select(c => c.GetProperty("campaignId").GetString()!));
        Assert.Empty((await server.GetJsonAsync("/v1/campaigns?sort=examples&offset=50")).GetProperty("campaigns").EnumerateArray());

        var byClicks = (await server.GetJsonAsync("/v1/campaigns?sort=clicks&limit=100")).GetProperty("campaigns").EnumerateArray().Select(c => c.GetProperty("clicks").GetDouble()).ToArray();
        Assert.Equal(byClicks.OrderDescending(), byClicks);
        var byId = (await server.GetJsonAsync("/v1/campaigns?sort=id")).GetProperty("campaigns").EnumerateArray().Select(c => c.GetProperty("campaignId").GetString()!).ToArray();
        Assert.Equal(ConsoleTraffic.Campaigns.Order(StringComparer.Ordinal), byId);
    }

    [Fact]
    public async Task Joiner_ServedImpressedAndClicked_CountsWhatHappened()
    {
        await using var server = await ConsoleServer.StartAsync();
        var traffic = new ConsoleTraffic(seed: 5);
        var ids = new List<string>();
        for (var r = 0; r < 4; r++)
        {
            foreach (var p in (await server.PostJsonAsync("/v1/predict", traffic.Predict(2))).GetProperty("predictions").EnumerateArray())
            {
                ids.Add(p.GetProperty("impressionId").GetString()!);
            }
        }

        var events = new StringBuilder();
        events.Append("{\"type\":\"impression\",\"impressionId\":\"").Append(ids[0]).Append("\"}\n");
        events.Append("{\"type\":\"click\",\"impressionId\":\"").Append(ids[0]).Append("\"}\n");
        events.Append("{\"type\":\"click\",\"impressionId\":\"").Append(ids[1]).Append("\"}\n"); // no impression
        using var response = await server.Client.PostAsync("/v1/events", new StringContent(events.ToString(), Encoding.UTF8, "application/x-ndjson"));
        Assert.True(response.IsSuccessStatusCode);

        var j = await server.GetJsonAsync("/v1/joiner");
        Assert.True(j.GetProperty("enabled").GetBoolean());
        Assert.Equal("wait", j.GetProperty("policy").GetString());
        Assert.Equal(900, j.GetProperty("attributionWindowSeconds").GetDouble());
        Assert.Equal(8, j.GetProperty("served").GetInt64());
        Assert.Equal(1, j.GetProperty("positives").GetInt64());
        Assert.Equal(2, j.GetProperty("events").GetProperty("accepted").GetInt64());
        Assert.Equal(1, j.GetProperty("events").GetProperty("clickWithoutImpression").GetInt64());
        // All 8 stay pending until their window ends: a clicked one too, so that a repeated click is a duplicate.
        Assert.Equal(8, j.GetProperty("pending").GetInt64());
    }

    [Fact]
    public async Task Joiner_Disabled_SaysSo()
    {
        await using var server = await ConsoleServer.StartAsync("--AdCtr:Joiner:Enabled=false");
        var j = await server.GetJsonAsync("/v1/joiner");
        Assert.False(j.GetProperty("enabled").GetBoolean());
        Assert.Equal(0, j.GetProperty("pending").GetInt64());
    }

    [Theory]
    [InlineData("/v1/models/reliability?bins=0")]
    [InlineData("/v1/models/reliability?bins=51")]
    [InlineData("/v1/models/reliability?bins=abc")]
    [InlineData("/v1/models/history?limit=0")]
    [InlineData("/v1/models/history?limit=361")]
    [InlineData("/v1/campaigns?sort=budget")]
    public async Task Feeds_BadQuery_Answer400ProblemJson(string path)
    {
        await using var server = await ConsoleServer.StartAsync();
        using var response = await server.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Page_Files_ServedFromTheAssemblyWithAContentSecurityPolicy()
    {
        await using var server = await ConsoleServer.StartAsync();
        using var page = await server.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"/console/console.js\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        var csp = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);

        foreach (var (file, type) in new[] { ("console.js", "text/javascript"), ("console.css", "text/css") })
        {
            using var asset = await server.Client.GetAsync("/console/" + file);
            Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
            Assert.Equal(type, asset.Content.Headers.ContentType?.MediaType);
            Assert.True((await asset.Content.ReadAsByteArrayAsync()).Length > 1000);

            // Revalidation: the same ETag answers 304 without a body.
            using var again = new HttpRequestMessage(HttpMethod.Get, "/console/" + file);
            again.Headers.IfNoneMatch.Add(asset.Headers.ETag!);
            using var notModified = await server.Client.SendAsync(again);
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        }

        using var missing = await server.Client.GetAsync("/console/missing.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
    }
}

/// <summary>The calibration window as the reliability diagram reads it.</summary>
public sealed class CalibrationWindowTests
{
    [Fact]
    public void CopyWindowTo_RingWrappedAround_CopiesTheNewestTriples()
    {
        var service = new AdCtr.Server.Model.CalibrationService(new AdCtr.Server.Hosting.CalibrationOptions { Window = 100, MinExamples = 10_000_000, RefitEvery = 10_000_000 });
        for (var i = 0; i < 150; i++)
        {
            service.Record(i / 1000.0, i % 2, 1);
        }

        var newest = new AdCtr.Learning.Evaluation.MetricsAccumulator();
        Assert.Equal(10, service.CopyWindowTo(newest, 10));
        // Triples 140..149: predictions 0.140..0.149 (mean 0.1445), five of them clicked.
        Assert.Equal(0.1445, newest.Compute().MeanPrediction, 1e-12);
        Assert.Equal(5, newest.Compute().Clicks);

        var all = new AdCtr.Learning.Evaluation.MetricsAccumulator();
        Assert.Equal(100, service.CopyWindowTo(all, int.MaxValue)); // the window holds the last 100 (50..149)
        Assert.Equal(0.0995, all.Compute().MeanPrediction, 1e-12);
        Assert.Equal(150, service.Recorded);
    }

    [Fact]
    public void CopyWindowTo_CalibrationOff_CopiesNothing()
    {
        var service = new AdCtr.Server.Model.CalibrationService(new AdCtr.Server.Hosting.CalibrationOptions { Kind = AdCtr.Server.Hosting.CalibrationKind.None });
        service.Record(0.1, 1, 1);
        Assert.Equal(0, service.CopyWindowTo(new AdCtr.Learning.Evaluation.MetricsAccumulator(), 10));
    }
}
