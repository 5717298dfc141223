using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Durability;
using AdCtr.Server.Hosting;
using AdCtr.Server.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace AdCtr.Server.Tests.Durability;

/// <summary>A real AdCtr server on 127.0.0.1 (ephemeral port) over a data directory the test owns.</summary>
internal sealed class InProcessServer : IAsyncDisposable
{
    public const string ApiKey = "test-key";

    private InProcessServer(WebApplication app, HttpClient client)
    {
        App = app;
        Client = client;
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public CtrEngine Engine => App.Services.GetRequiredService<CtrEngine>();

    public DurabilityService Durability => App.Services.GetRequiredService<DurabilityService>();

    /// <summary>Builds and starts a server; <paramref name="settings"/> are extra <c>--key=value</c> settings.</summary>
    public static async Task<InProcessServer> StartAsync(string dataDirectory, IEnumerable<string>? settings = null, Action<IServiceCollection>? services = null)
    {
        var args = new List<string>
        {
            "--urls=http://127.0.0.1:0",
            "--AdCtr:Cluster:SiloPort=0",
            "--AdCtr:Cluster:GatewayPort=0",
            "--AdCtr:Storage:Path=" + dataDirectory,
            "--AdCtr:Model:Bits=18",
            "--AdCtr:Calibration:Kind=None",
            "--AdCtr:Admin:ApiKey=" + ApiKey,
            "--Logging:LogLevel:Default=Warning",
        };
        if (settings is not null)
        {
            args.AddRange(settings);
        }

        var app = AdCtrServer.Build([.. args], services);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) };
        return new InProcessServer(app, client);
    }

    /// <summary>Posts NDJSON examples; returns the accepted count (asserting 200).</summary>
    public async Task<int> PostExamplesAsync(string ndjson)
    {
        using var response = await Client.PostAsync("/v1/examples", new StringContent(ndjson, Encoding.UTF8, "application/x-ndjson"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("accepted").GetInt32();
    }

    /// <summary>Raw-equal (calibration off) predictions of the probe candidates, and the model version.</summary>
    public async Task<(long Version, double[] Ctr, string[] ImpressionIds)> PredictAsync(string request)
    {
        using var response = await Client.PostAsync("/v1/predict", new StringContent(request, Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        var root = JsonDocument.Parse(body).RootElement;
        var predictions = root.GetProperty("predictions");
        var ctr = new double[predictions.GetArrayLength()];
        var ids = new string[ctr.Length];
        for (var i = 0; i < ctr.Length; i++)
        {
            ctr[i] = predictions[i].GetProperty("ctr").GetDouble();
            ids[i] = predictions[i].GetProperty("impressionId").GetString()!;
        }

        return (root.GetProperty("modelVersion").GetInt64(), ctr, ids);
    }

    public async Task<JsonElement> AdminAsync(HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Api-Key", ApiKey);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>Deterministic example batches for the durability tests.</summary>
internal static class ExampleData
{
    public const int DefaultBatchSize = 500;

    private static readonly string[] Ages = ["18-24", "25-34", "35-44", "45-54"];
    private static readonly string[] Devices = ["ios", "android", "web"];

    /// <summary>Batch <paramref name="index"/> of <paramref name="size"/> examples, all of campaign c(index mod campaigns).</summary>
    public static string Batch(int seed, int index, int size, int campaigns = 3)
    {
        var random = new Random(HashCode.Combine(seed, index) & int.MaxValue);
        var campaign = "c" + (index % campaigns);
        var sb = new StringBuilder(size * 200);
        for (var i = 0; i < size; i++)
        {
            var age = Ages[random.Next(Ages.Length)];
            var device = Devices[random.Next(Devices.Length)];
            // Clicks more likely for young iOS users, so the model has something to learn.
            var p = 0.05 + (age == "18-24" ? 0.2 : 0) + (device == "ios" ? 0.1 : 0);
            var label = random.NextDouble() < p ? 1 : 0;
            sb.Append("{\"campaignId\":\"").Append(campaign).Append("\",\"adId\":\"").Append(campaign).Append("-a").Append(random.Next(3))
                .Append("\",\"label\":").Append(label)
                .Append(",\"context\":{\"user_age\":\"").Append(age).Append("\",\"device\":\"").Append(device)
                .Append("\",\"site\":\"s").Append(random.Next(20)).Append("\"}}\n");
        }

        return sb.ToString();
    }

    /// <summary>A predict request with one candidate per campaign for a fixed user.</summary>
    public static string Probe(int campaigns = 3)
    {
        var sb = new StringBuilder("{\"context\":{\"user_age\":\"18-24\",\"device\":\"ios\",\"site\":\"s3\"},\"candidates\":[");
        for (var c = 0; c < campaigns; c++)
        {
            sb.Append(c == 0 ? "" : ",").Append("{\"adId\":\"c").Append(c).Append("-a1\",\"campaignId\":\"c").Append(c).Append("\"}");
        }

        return sb.Append("]}").ToString();
    }
}
