using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Hosting;
using AdCtr.Server.Tests.Storage;
using AdCtr.Server.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AdCtr.Server.Tests.ConsolePage;

/// <summary>
/// The real server on 127.0.0.1 (ephemeral port) with a clock whose timers fire only when the test advances it,
/// so the history sampler takes its samples exactly when the test says. Durability is off (nothing here needs
/// the log, and its fsync timer would wait on the manual clock).
/// </summary>
internal sealed class ConsoleServer : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);

    private readonly WebApplication _app;

    private ConsoleServer(WebApplication app, HttpClient client, ManualTimeProvider clock)
    {
        _app = app;
        Client = client;
        Clock = clock;
    }

    public HttpClient Client { get; }

    public ManualTimeProvider Clock { get; }

    public Uri Address => Client.BaseAddress!;

    public static async Task<ConsoleServer> StartAsync(params string[] settings)
    {
        var clock = new ManualTimeProvider(Start);
        string[] args =
        [
            "--urls", "http://127.0.0.1:0",
            "--AdCtr:Durability:Enabled=false",
            "--AdCtr:Model:SpecPath=" + Path.Combine(RepoPaths.Config, "features.sim.json"),
            "--AdCtr:Model:Bits=18",
            "--AdCtr:Console:HistoryInterval=00:00:05",
            "--Logging:LogLevel:Default=Warning",
            .. settings,
        ];
        var app = AdCtrServer.Build(args, services =>
        {
            services.RemoveAll<TimeProvider>();
            services.AddSingleton<TimeProvider>(clock);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(60) };
        return new ConsoleServer(app, client, clock);
    }

    /// <summary>Posts NDJSON examples and asserts every line was accepted.</summary>
    public async Task PostExamplesAsync(string ndjson, int expected)
    {
        using var response = await Client.PostAsync("/v1/examples", new StringContent(ndjson, Encoding.UTF8, new MediaTypeHeaderValue("application/x-ndjson")));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        Assert.Equal(expected, JsonDocument.Parse(body).RootElement.GetProperty("accepted").GetInt32());
    }

    public async Task<JsonElement> PostJsonAsync(string path, string json)
    {
        using var response = await Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, path + ": " + body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// Seeded synthetic traffic for the console tests: a few campaigns of very different volume, whose click
/// probability depends on the user's age and device and on the campaign, so the model has something to learn
/// and the charts have something to show.
/// </summary>
internal sealed class ConsoleTraffic(int seed)
{
    public static readonly string[] Campaigns = ["summer-shoes", "city-travel", "ev-cars", "game-launch", "bank-card", "news-app"];

    private static readonly double[] Share = [0.31, 0.23, 0.17, 0.13, 0.09, 0.07];
    private static readonly double[] CampaignLogit = [-2.2, -3.0, -3.6, -1.7, -3.3, -2.6];
    private static readonly string[] Categories = ["shoes", "travel", "cars", "games", "finance", "news"];
    private static readonly string[] Ages = ["18-24", "25-34", "35-44", "45-54", "55+"];
    private static readonly double[] AgeLogit = [0.9, 0.4, 0, -0.4, -0.8];
    private static readonly string[] Devices = ["ios", "android", "desktop"];
    private static readonly double[] DeviceLogit = [0.5, 0.1, -0.5];

    private readonly Random _random = new(seed);

    /// <summary>Examples learned per campaign id so far.</summary>
    public Dictionary<string, int> PerCampaign { get; } = new(StringComparer.Ordinal);

    public int Total { get; private set; }

    /// <summary>A batch of <paramref name="count"/> labeled examples as NDJSON.</summary>
    public string Batch(int count)
    {
        var sb = new StringBuilder(count * 260);
        for (var i = 0; i < count; i++)
        {
            var c = Pick(Share);
            var age = _random.Next(Ages.Length);
            var device = _random.Next(Devices.Length);
            var logit = CampaignLogit[c] + AgeLogit[age] + DeviceLogit[device];
            var label = _random.NextDouble() < 1 / (1 + Math.Exp(-logit)) ? 1 : 0;
            var campaign = Campaigns[c];
            sb.Append("{\"campaignId\":\"").Append(campaign)
                .Append("\",\"adId\":\"").Append(campaign).Append("-a").Append(_random.Next(3))
                .Append("\",\"advertiserId\":\"adv").Append(c % 4)
                .Append("\",\"features\":{\"ad_category\":\"").Append(Categories[c])
                .Append("\"},\"label\":").Append(label)
                .Append(",\"context\":{\"user_age\":\"").Append(Ages[age])
                .Append("\",\"device\":\"").Append(Devices[device])
                .Append("\",\"site\":\"s").Append(_random.Next(12))
                .Append("\",\"hour\":\"").Append(_random.Next(24))
                .Append("\"}}\n");
            PerCampaign[campaign] = PerCampaign.GetValueOrDefault(campaign) + 1;
            Total++;
        }

        return sb.ToString();
    }

    /// <summary>A predict request for one user with one candidate of each of the first <paramref name="candidates"/> campaigns.</summary>
    public string Predict(int candidates)
    {
        var sb = new StringBuilder("{\"context\":{\"user_age\":\"").Append(Ages[_random.Next(Ages.Length)])
            .Append("\",\"device\":\"").Append(Devices[_random.Next(Devices.Length)]).Append("\"},\"candidates\":[");
        for (var c = 0; c < candidates; c++)
        {
            sb.Append(c == 0 ? "" : ",").Append("{\"adId\":\"").Append(Campaigns[c]).Append("-a0\",\"campaignId\":\"").Append(Campaigns[c])
                .Append("\",\"features\":{\"ad_category\":\"").Append(Categories[c]).Append("\"}}");
        }

        return sb.Append("]}").ToString();
    }

    private int Pick(double[] weights)
    {
        var u = _random.NextDouble();
        for (var i = 0; i < weights.Length - 1; i++)
        {
            u -= weights[i];
            if (u < 0)
            {
                return i;
            }
        }

        return weights.Length - 1;
    }
}
