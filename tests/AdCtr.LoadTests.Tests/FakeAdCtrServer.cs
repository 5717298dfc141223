using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AdCtr.LoadTests.Tests;

/// <summary>
/// A stand-in for the AdCtr server's HTTP contract (the real server lives in another branch): predict answers
/// with one impression id per candidate; events and examples count their NDJSON lines and reject unknown ids.
/// </summary>
internal sealed class FakeAdCtrServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HashSet<string> _issued = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, int> _campaignExamples = new(StringComparer.Ordinal);
    private long _next;

    private FakeAdCtrServer(WebApplication app) => _app = app;

    public string Url { get; private set; } = "";

    public int UnknownImpressionIds { get; private set; }

    public int Predictions { get; private set; }

    public int EventLines { get; private set; }

    public int ExampleLines { get; private set; }

    public static async Task<FakeAdCtrServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var server = new FakeAdCtrServer(app);
        app.MapGet("/health/ready", () => Results.Ok());
        app.MapPost("/v1/predict", server.PredictAsync);
        app.MapPost("/v1/events", server.EventsAsync);
        app.MapPost("/v1/examples", server.ExamplesAsync);
        app.MapGet("/metrics", server.Metrics);
        app.MapGet("/v1/models", server.Models);
        app.MapGet("/v1/campaigns", server.Campaigns);
        await app.StartAsync();
        server.Url = AdCtr.Baseline.BaselineApp.BoundAddresses(app).Single();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task<IResult> PredictAsync(HttpRequest request)
    {
        var body = await JsonNode.ParseAsync(request.Body);
        var predictions = new JsonArray();
        foreach (var candidate in body!["candidates"]!.AsArray())
        {
            string id;
            lock (_issued)
            {
                id = "imp" + (++_next).ToString(System.Globalization.CultureInfo.InvariantCulture);
                _issued.Add(id);
                Predictions++;
            }

            predictions.Add(new JsonObject
            {
                ["adId"] = candidate!["adId"]!.GetValue<string>(),
                ["campaignId"] = candidate["campaignId"]!.GetValue<string>(),
                ["ctr"] = 0.01 + (id.Length % 7) / 100.0,
                ["impressionId"] = id,
            });
        }

        return Results.Json(new JsonObject { ["requestId"] = body["requestId"]!.GetValue<string>(), ["modelVersion"] = "fake-1", ["predictions"] = predictions });
    }

    private async Task<IResult> EventsAsync(HttpRequest request)
    {
        var lines = await ReadLinesAsync(request);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var type = doc.RootElement.GetProperty("type").GetString();
            var id = doc.RootElement.GetProperty("impressionId").GetString()!;
            _ = doc.RootElement.GetProperty("timestamp").GetDateTimeOffset();
            lock (_issued)
            {
                EventLines++;
                if (type is not ("impression" or "click") || !_issued.Contains(id))
                {
                    UnknownImpressionIds++;
                }
            }
        }

        return Results.Json(new { accepted = lines.Count });
    }

    private async Task<IResult> ExamplesAsync(HttpRequest request)
    {
        var lines = await ReadLinesAsync(request);
        var campaigns = new List<string>(lines.Count);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.GetProperty("label").GetInt32() is not (0 or 1))
            {
                return Results.BadRequest();
            }

            campaigns.Add(doc.RootElement.GetProperty("campaignId").GetString()!);
        }

        lock (_issued)
        {
            ExampleLines += lines.Count;
            foreach (var c in campaigns)
            {
                _campaignExamples[c] = _campaignExamples.GetValueOrDefault(c) + 1;
            }
        }

        return Results.Json(new { accepted = lines.Count, rejected = Array.Empty<object>() });
    }

    /// <summary>Working set 100,000,000 + 1,000 bytes per example learned; GC heap gen0 1,000 + gen2 100 bytes per example.</summary>
    private IResult Metrics()
    {
        int examples;
        lock (_issued)
        {
            examples = ExampleLines;
        }

        var text = "# TYPE dotnet_gc_last_collection_heap_size_bytes gauge\n" +
            "dotnet_gc_last_collection_heap_size_bytes{gc_heap_generation=\"gen0\"} 1000\n" +
            $"dotnet_gc_last_collection_heap_size_bytes{{gc_heap_generation=\"gen2\"}} {100 * examples}\n" +
            "# TYPE dotnet_process_memory_working_set_bytes gauge\n" +
            $"dotnet_process_memory_working_set_bytes {100_000_000L + 1000L * examples}\n";
        return Results.Text(text, "text/plain; version=0.0.4; charset=utf-8");
    }

    /// <summary>Every campaign has 2 coefficients per example learned, of 48 bytes each.</summary>
    private IResult Models()
    {
        lock (_issued)
        {
            var coordinates = 2L * _campaignExamples.Values.Sum();
            return Results.Json(new
            {
                version = ExampleLines,
                global = new { coordinates = 7, bytes = 1024 },
                campaigns = new { count = _campaignExamples.Count, coordinates, bytes = 48 * coordinates },
            });
        }
    }

    private IResult Campaigns(int offset, int limit)
    {
        lock (_issued)
        {
            var page = _campaignExamples.Skip(offset).Take(limit)
                .Select(kv => new { campaignId = kv.Key, coefficients = 2L * kv.Value, modelBytes = 96L * kv.Value, examples = kv.Value }).ToList();
            return Results.Json(new { total = _campaignExamples.Count, offset, limit, campaigns = page });
        }
    }

    private static async Task<List<string>> ReadLinesAsync(HttpRequest request)
    {
        if (request.ContentType != "application/x-ndjson")
        {
            throw new BadHttpRequestException("expected NDJSON");
        }

        using var reader = new StreamReader(request.Body);
        var text = await reader.ReadToEndAsync();
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }
}
