using System.Net;
using System.Text.Json;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Api;

public sealed class ServingTests
{
    private const string Context = """{"user_age":"25-34","gender":"f","device":"mobile","hour":"13","site":"s1"}""";

    private static string Predict(params (string Ad, string Campaign)[] candidates)
    {
        var items = string.Join(',', candidates.Select(c => $$$"""{"adId":"{{{c.Ad}}}","campaignId":"{{{c.Campaign}}}","advertiserId":"adv1","features":{"ad_category":"shoes"}}"""));
        return $$"""{"requestId":"r1","context":{{Context}},"candidates":[{{items}}]}""";
    }

    private static string Examples(string campaign, int label, int count)
    {
        var line = $$"""{"context":{{Context}},"adId":"{{campaign}}-a","campaignId":"{{campaign}}","advertiserId":"adv1","features":{"ad_category":"shoes"},"label":{{label}}}""";
        return string.Join('\n', Enumerable.Repeat(line, count));
    }

    [Fact]
    public async Task Predict_ColdStart_ReturnsOnePredictionPerCandidateInOrderWithUniqueImpressionIds()
    {
        await using var server = await LoopbackServer.StartAsync();
        var root = await server.PredictAsync(Predict(("a1", "c1"), ("a2", "c2"), ("a3", "c1")));

        Assert.Equal("r1", root.GetProperty("requestId").GetString());
        Assert.Equal(0, root.GetProperty("modelVersion").GetInt64());
        var predictions = root.GetProperty("predictions").EnumerateArray().ToArray();
        Assert.Equal(new[] { "a1", "a2", "a3" }, predictions.Select(p => p.GetProperty("adId").GetString()));
        Assert.Equal(new[] { "c1", "c2", "c1" }, predictions.Select(p => p.GetProperty("campaignId").GetString()));
        // An untrained model has every weight 0: sigmoid(0) = 0.5, and the calibrator is the identity.
        Assert.All(predictions, p => Assert.Equal(0.5, p.GetProperty("ctr").GetDouble()));
        Assert.Equal(3, predictions.Select(p => p.GetProperty("impressionId").GetString()).Distinct().Count());
    }

    [Fact]
    public async Task Predict_Repeated_NeverChangesModelState()
    {
        await using var server = await LoopbackServer.StartAsync();
        Assert.True((await server.PostNdjsonAsync("/v1/examples", Examples("c1", 1, 50))).IsSuccessStatusCode);
        var coordinates = server.Engine.Global.Coordinates;
        var first = (await server.PredictAsync(Predict(("a1", "c1")))).GetProperty("predictions")[0].GetProperty("ctr").GetDouble();
        for (var i = 0; i < 20; i++)
        {
            await server.PredictAsync(Predict(("a1", "c1"), ("a9", "never-seen")));
        }

        var again = (await server.PredictAsync(Predict(("a1", "c1")))).GetProperty("predictions")[0].GetProperty("ctr").GetDouble();
        Assert.Equal(first, again);
        Assert.Equal(coordinates, server.Engine.Global.Coordinates);
        Assert.Equal(50, server.Engine.ExamplesLearned);
    }

    [Fact]
    public async Task Examples_ClicksOfOneCampaign_MovePredictionsTowardsTheirRates()
    {
        // The campaign settings the bounds below were written for. With the tuned defaults (campaign alpha 0.00825,
        // issue 15) the campaign part moves more slowly: 0.78 for "clicky" after these 1,000 examples.
        await using var server = await LoopbackServer.StartAsync(
            "--AdCtr:Model:Campaign:Alpha=0.05", "--AdCtr:Model:Campaign:L1=0.5", "--AdCtr:Model:Campaign:L2=20");
        var before = await server.PredictAsync(Predict(("a1", "clicky"), ("a2", "ignored")));

        for (var batch = 0; batch < 4; batch++)
        {
            using var a = await server.PostNdjsonAsync("/v1/examples", Examples("clicky", 1, 250));
            using var b = await server.PostNdjsonAsync("/v1/examples", Examples("ignored", 0, 250));
            Assert.Equal(HttpStatusCode.OK, a.StatusCode);
            Assert.Equal(HttpStatusCode.OK, b.StatusCode);
        }

        var after = await server.PredictAsync(Predict(("a1", "clicky"), ("a2", "ignored")));
        var clicky = after.GetProperty("predictions")[0].GetProperty("ctr").GetDouble();
        var ignored = after.GetProperty("predictions")[1].GetProperty("ctr").GetDouble();
        Assert.Equal(0.5, before.GetProperty("predictions")[0].GetProperty("ctr").GetDouble());
        // 1,000 all-click examples for one campaign and 1,000 no-click ones for the other: the first must be
        // predicted well above the second, and each moved from 0.5 in the direction of its own labels.
        Assert.True(clicky > 0.8, "clicky " + clicky);
        Assert.True(ignored < 0.2, "ignored " + ignored);
        Assert.Equal(2000, after.GetProperty("modelVersion").GetInt64());
    }

    [Fact]
    public async Task Predict_UnknownCampaign_GetsTheGlobalModelPrediction()
    {
        await using var server = await LoopbackServer.StartAsync();
        await server.PostNdjsonAsync("/v1/examples", Examples("c1", 1, 300));
        var root = await server.PredictAsync(Predict(("x1", "brand-new-1"), ("x2", "brand-new-2")));
        var p1 = root.GetProperty("predictions")[0].GetProperty("ctr").GetDouble();
        var p2 = root.GetProperty("predictions")[1].GetProperty("ctr").GetDouble();

        // Neither campaign has a model nor a trained id feature: both get exactly the global prediction of the
        // shared features, which learned from c1's clicks (so it is above the untrained 0.5).
        Assert.Equal(p1, p2);
        Assert.True(p1 > 0.5, "cold start " + p1);
        Assert.Equal(1, server.Engine.KnownCampaigns);
    }

    [Fact]
    public async Task Examples_JsonArrayAndNdjson_AreBothAcceptedWithPerLineResults()
    {
        await using var server = await LoopbackServer.StartAsync();
        var line = $$"""{"context":{{Context}},"adId":"a","campaignId":"c1","features":{"ad_category":"shoes"},"label":1,"weight":2.5,"timestamp":"2026-01-05T12:00:00Z"}""";
        using var array = await server.PostJsonAsync("/v1/examples", "[\n" + line + ",\n" + line.Replace("\"label\":1", "\"label\":7", StringComparison.Ordinal) + "\n]");
        var body = JsonDocument.Parse(await array.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, array.StatusCode);
        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        var rejected = body.GetProperty("rejected")[0];
        Assert.Equal(2, rejected.GetProperty("line").GetInt64());
        Assert.Equal("label is not 0 or 1", rejected.GetProperty("error").GetString());

        using var ndjson = await server.PostNdjsonAsync("/v1/examples", line + "\n\n" + line + "\n");
        Assert.Equal(2, JsonDocument.Parse(await ndjson.Content.ReadAsStringAsync()).RootElement.GetProperty("accepted").GetInt32());
        Assert.Equal(3, server.Engine.ExamplesLearned);
    }

    [Fact]
    public async Task Campaigns_AfterLearning_ReportExactCountsAndPage()
    {
        await using var server = await LoopbackServer.StartAsync();
        await server.PostNdjsonAsync("/v1/examples", Examples("c1", 1, 30) + "\n" + Examples("c1", 0, 70) + "\n" + Examples("c2", 0, 5));

        var c1 = JsonDocument.Parse(await server.Client.GetStringAsync("/v1/campaigns/c1")).RootElement;
        Assert.Equal("c1", c1.GetProperty("campaignId").GetString());
        Assert.Equal(100, c1.GetProperty("examples").GetInt64());
        Assert.Equal(30, c1.GetProperty("clicks").GetDouble());
        Assert.True(c1.GetProperty("coefficients").GetInt64() > 0);
        Assert.True(c1.GetProperty("logLoss").GetDouble() > 0);
        Assert.Equal(server.Clock.GetUtcNow(), c1.GetProperty("lastUpdate").GetDateTimeOffset());

        using var missing = await server.Client.GetAsync("/v1/campaigns/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);

        var page = JsonDocument.Parse(await server.Client.GetStringAsync("/v1/campaigns?offset=1&limit=1")).RootElement;
        Assert.Equal(2, page.GetProperty("total").GetInt32());
        Assert.Equal("c2", page.GetProperty("campaigns")[0].GetProperty("campaignId").GetString());

        var models = JsonDocument.Parse(await server.Client.GetStringAsync("/v1/models")).RootElement;
        Assert.Equal(105, models.GetProperty("version").GetInt64());
        Assert.Equal(2, models.GetProperty("campaigns").GetProperty("count").GetInt32());
        Assert.Equal("wait", models.GetProperty("joiner").GetProperty("policy").GetString());
        Assert.Equal(15 * 60, models.GetProperty("joiner").GetProperty("attributionWindowSeconds").GetDouble());
    }

    [Fact]
    public async Task Explain_OneCandidate_ContributionsSumToTheLogit()
    {
        await using var server = await LoopbackServer.StartAsync();
        await server.PostNdjsonAsync("/v1/examples", Examples("c1", 1, 200) + "\n" + Examples("c2", 0, 200));
        using var response = await server.PostJsonAsync("/v1/explain", Predict(("a1", "c1")));
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(root.GetProperty("campaignModel").GetBoolean());
        var sum = root.GetProperty("global").EnumerateArray().Concat(root.GetProperty("campaign").EnumerateArray()).Sum(f => f.GetProperty("contribution").GetDouble());
        // Every feature of this request is among the top 20 (it has fewer), so the contributions add up to the logit.
        Assert.Equal(root.GetProperty("logit").GetDouble(), sum, 9);
        var predicted = (await server.PredictAsync(Predict(("a1", "c1")))).GetProperty("predictions")[0].GetProperty("ctr").GetDouble();
        Assert.Equal(predicted, root.GetProperty("ctr").GetDouble(), 12);
        Assert.Contains(root.GetProperty("global").EnumerateArray(), f => f.GetProperty("name").GetString() == "user_age=25-34 x ad_category=shoes");

        using var two = await server.PostJsonAsync("/v1/explain", Predict(("a1", "c1"), ("a2", "c2")));
        Assert.Equal(HttpStatusCode.BadRequest, two.StatusCode);
    }

    [Fact]
    public async Task Health_OpenApiAndMetrics_AreServed()
    {
        await using var server = await LoopbackServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health/ready")).StatusCode);
        var openApi = await server.Client.GetStringAsync("/openapi/v1.json");
        foreach (var path in new[] { "/v1/predict", "/v1/examples", "/v1/explain", "/v1/campaigns/{id}", "/v1/models" })
        {
            Assert.Contains("\"" + path + "\"", openApi, StringComparison.Ordinal);
        }

        await server.PostNdjsonAsync("/v1/examples", Examples("c1", 1, 10));
        await server.PredictAsync(Predict(("a1", "c1")));
        using var metrics = await server.Client.GetAsync("/metrics");
        var text = await metrics.Content.ReadAsStringAsync();
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.Content.Headers.ContentType?.ToString());
        Assert.Contains("\nadctr_examples_learned_total 10\n", text, StringComparison.Ordinal);
        Assert.Contains("\nadctr_predictions_total 1\n", text, StringComparison.Ordinal);
        Assert.Contains("http_request_duration_seconds_bucket{code=\"2xx\",method=\"POST\",endpoint=\"/v1/predict\",le=\"0.01\"}", text, StringComparison.Ordinal);
        Assert.Contains("\nadctr_progressive_window_examples 10\n", text, StringComparison.Ordinal);
        Assert.Contains("\ndotnet_gc_collections_total{", text, StringComparison.Ordinal);
        var (exit, output) = await Telemetry.Promtool.CheckMetricsAsync(text);
        Assert.True(exit == 0 && output.Length == 0, "promtool: " + output);
    }
}
