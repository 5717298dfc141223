using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using AdCtr.Simulator.Drive;
using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Commands;

/// <summary>
/// <c>adctr-sim drive --server URL --scenario NAME --duration D [--rate R] [--max-requests N] [--seed S] [--json]
/// [--allow-remote] ...</c>: drives a running server with a simulated world (predict, show, impression and click
/// events) and reports load and quality against the world's true click probabilities.
/// </summary>
public static class DriveCommand
{
    /// <summary>Every option of the command, so that the action reads them in one place.</summary>
    private sealed record Options(
        Option<string> Server,
        Option<string> Scenario,
        Option<string> Duration,
        Option<double> Rate,
        Option<long?> MaxRequests,
        Option<ulong> Seed,
        Option<bool> Json,
        Option<bool> AllowRemote,
        Option<int> MaxInFlight,
        Option<double> ClickDelayScale,
        Option<string> AttributionWindow,
        Option<string> Timeout,
        Option<int> EventBatch,
        Option<string> FlushInterval);

    public static Command Create()
    {
        var o = new Options(
            new Option<string>("--server") { Description = "Base URL of the AdCtr server (loopback only unless --allow-remote), e.g. http://127.0.0.1:5080", Required = true },
            new Option<string>("--scenario") { Description = "Scenario name (config/scenarios/NAME.json) or path to a scenario JSON file", Required = true },
            new Option<string>("--duration") { Description = "How long to send requests: 30s, 2m, 1h, 500ms or seconds", Required = true },
            new Option<double>("--rate") { Description = "Requests per second, open loop (0 = as fast as the in-flight bound allows)", DefaultValueFactory = _ => 200 },
            new Option<long?>("--max-requests") { Description = "Stop after this many predict requests" },
            new Option<ulong>("--seed") { Description = "Seed of the world, the requests and the click draws", DefaultValueFactory = _ => 1UL },
            new Option<bool>("--json") { Description = "Print the report as one JSON object on standard output" },
            new Option<bool>("--allow-remote") { Description = "Allow a --server that is not a loopback address" },
            new Option<int>("--max-in-flight") { Description = "Predict requests in flight at once", DefaultValueFactory = _ => 64 },
            new Option<double>("--click-delay-scale") { Description = "Wall seconds per simulated second of click delay (1 = real time)", DefaultValueFactory = _ => 1.0 },
            new Option<string>("--attribution-window") { Description = "Clicks later than this are not sent (default: the window the server reports in /v1/models, else 15m)" },
            new Option<string>("--timeout") { Description = "Per predict and events call", DefaultValueFactory = _ => "10s" },
            new Option<int>("--event-batch") { Description = "Post events when this many are queued", DefaultValueFactory = _ => 1000 },
            new Option<string>("--flush-interval") { Description = "... or this long after the previous post", DefaultValueFactory = _ => "100ms" });

        var command = new Command("drive", "Drive a running AdCtr server with a simulated world and report load and quality against the truth")
        {
            o.Server, o.Scenario, o.Duration, o.Rate, o.MaxRequests, o.Seed, o.Json, o.AllowRemote, o.MaxInFlight,
            o.ClickDelayScale, o.AttributionWindow, o.Timeout, o.EventBatch, o.FlushInterval,
        };
        command.SetAction((r, ct) => ExecuteAsync(r, o, ct));
        return command;
    }

    /// <summary>Parses <c>30s</c>, <c>2m</c>, <c>1h</c>, <c>500ms</c>, a number of seconds, or <c>hh:mm:ss</c>.</summary>
    public static bool TryParseDuration(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (text.Contains(':', StringComparison.Ordinal))
        {
            return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value > TimeSpan.Zero;
        }

        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        var scale = 1.0;
        var number = text;
        foreach (var (suffix, seconds) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                scale = seconds;
                number = text[..^suffix.Length];
                break;
            }
        }

        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || !double.IsFinite(n) || n <= 0 || n * scale > TimeSpan.MaxValue.TotalSeconds / 2)
        {
            return false;
        }

        value = TimeSpan.FromSeconds(n * scale);
        return true;
    }

    /// <summary>
    /// Checks an http(s) base URL; unless <paramref name="allowRemote"/>, its host must be <c>localhost</c> or a
    /// loopback address. Returns the URL with a trailing slash, or null with <paramref name="error"/>.
    /// </summary>
    public static Uri? CheckServer(string text, bool allowRemote, out string? error)
    {
        error = null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            error = "--server must be an http:// or https:// URL, not '" + text + "'";
            return null;
        }

        var loopback = string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(uri.DnsSafeHost, out var address) && IPAddress.IsLoopback(address));
        if (!loopback && !allowRemote)
        {
            error = "--server " + uri.Host + " is not a loopback address (localhost, 127.0.0.0/8, ::1); pass --allow-remote to drive a remote server";
            return null;
        }

        return uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
    }

    private static async Task<int> ExecuteAsync(ParseResult r, Options o, CancellationToken ct)
    {
        var stdout = r.InvocationConfiguration.Output;
        var stderr = r.InvocationConfiguration.Error;
        int Usage(string message)
        {
            stderr.WriteLine("adctr-sim: " + Program.OneLine(message));
            return Program.UsageError;
        }

        var server = CheckServer(r.GetRequiredValue(o.Server), r.GetValue(o.AllowRemote), out var serverError);
        if (server is null)
        {
            return Usage(serverError!);
        }

        if (!TryParseDuration(r.GetValue(o.Duration), out var duration))
        {
            return Usage("--duration must be a positive time such as 30s, 2m, 1h or 500ms, not '" + r.GetValue(o.Duration) + "'");
        }

        TimeSpan window = default, timeout, flush;
        var windowText = r.GetValue(o.AttributionWindow);
        if (windowText is not null && !TryParseDuration(windowText, out window))
        {
            return Usage("--attribution-window must be a positive time such as 15m");
        }

        if (!TryParseDuration(r.GetValue(o.Timeout), out timeout))
        {
            return Usage("--timeout must be a positive time such as 10s");
        }

        if (!TryParseDuration(r.GetValue(o.FlushInterval), out flush))
        {
            return Usage("--flush-interval must be a positive time such as 100ms");
        }

        var settings = new DriveSettings
        {
            Rate = r.GetValue(o.Rate),
            Duration = duration,
            MaxRequests = r.GetValue(o.MaxRequests) ?? long.MaxValue,
            MaxInFlight = r.GetValue(o.MaxInFlight),
            RequestTimeout = timeout,
            EventBatchSize = r.GetValue(o.EventBatch),
            FlushInterval = flush,
            ClickDelayScale = r.GetValue(o.ClickDelayScale),
            AttributionWindow = windowText is null ? TimeSpan.FromMinutes(15) : window,
        };
        try
        {
            settings.Validate();
        }
        catch (ArgumentException e)
        {
            return Usage(e.Message);
        }

        ScenarioDefinition scenario;
        try
        {
            scenario = ScenarioCatalog.Load(r.GetRequiredValue(o.Scenario));
        }
        catch (ScenarioException e)
        {
            return Usage(e.Message);
        }

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = settings.MaxInFlight + 1, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1) };
        using var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = server, Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        var reachable = await CheckReachableAsync(http, timeout, ct).ConfigureAwait(false);
        if (reachable is not null)
        {
            stderr.WriteLine("adctr-sim: cannot reach " + server + ": " + Program.OneLine(reachable));
            return 1;
        }

        var joiner = await ReadJoinerAsync(http, timeout, ct).ConfigureAwait(false);
        if (joiner is { } j)
        {
            if (windowText is null)
            {
                settings = settings with { AttributionWindow = j.Window };
            }

            var warning = JoinerWarning(j, settings);
            if (warning is not null)
            {
                stderr.WriteLine("adctr-sim: warning: " + warning);
            }
        }

        var runner = new DriveRunner(AdWorld.Create(scenario, r.GetValue(o.Seed)), http, settings, TimeProvider.System);
        var run = runner.RunAsync(ct);
        var showProgress = !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
        if (showProgress)
        {
            // Bounded by the run: one line a second until it completes.
            while (!run.IsCompleted)
            {
                await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false);
                var p = runner.Progress();
                stderr.Write(string.Create(CultureInfo.InvariantCulture,
                    $"\r{p.Elapsed.TotalSeconds,6:F1} s  sent {p.Sent:N0}  served {p.Served:N0}  errors {p.Errors:N0}  clicks {p.Clicks:N0}   "));
            }

            stderr.WriteLine();
        }

        var result = await run.ConfigureAwait(false);
        var name = server.ToString().TrimEnd('/');
        if (r.GetValue(o.Json))
        {
            using var buffer = new MemoryStream();
            DriveReport.WriteJson(result, buffer, name);
            stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        }
        else
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"drive: {result.Scenario} against {name}: {result.Sent:N0} requests in {result.Seconds:F1} s; one slot per request, CPC (the clicked ad pays its bid)"));
            stdout.Write(DriveReport.Table(result, name));
        }

        return 0;
    }

    /// <summary>The server's joiner settings (<c>GET /v1/models</c>, member <c>joiner</c>).</summary>
    public readonly record struct ServerJoiner(bool Enabled, string Policy, TimeSpan Window);

    /// <summary>
    /// Why this drive's figures would mislead, or null. Under the <c>wait</c> policy an impression becomes a
    /// negative example only when its attribution window runs out, so a drive shorter than the window teaches
    /// the server its clicks but (almost) none of its negatives: the predictions it measures are inflated.
    /// </summary>
    public static string? JoinerWarning(ServerJoiner joiner, DriveSettings settings)
    {
        if (!joiner.Enabled)
        {
            return "the server's joiner is disabled (AdCtr:Joiner:Enabled=false): events are not learned, so the model will not change during the drive";
        }

        if (joiner.Policy == "wait" && settings.Duration < joiner.Window)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"the server's joiner policy is 'wait' with a {joiner.Window.TotalMinutes:0.##} min window, longer than this {settings.Duration.TotalSeconds:0.#} s drive: impressions become negatives only when their window runs out, so the server will learn this drive's clicks but not its negatives and its predictions will be inflated. Start the server with --AdCtr:Joiner:Policy=fake-negative, or with a window shorter than the drive.");
        }

        return null;
    }

    /// <summary>Reads <c>joiner</c> from <c>GET /v1/models</c>; null when the server does not report it.</summary>
    private static async Task<ServerJoiner?> ReadJoinerAsync(HttpClient http, TimeSpan timeout, CancellationToken ct)
    {
        var (body, _) = await GetAsync(http, "v1/models", timeout, ct).ConfigureAwait(false);
        if (body is null)
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("joiner", out var joiner)
                || !joiner.TryGetProperty("enabled", out var enabled) || enabled.ValueKind is not (JsonValueKind.True or JsonValueKind.False)
                || !joiner.TryGetProperty("policy", out var policy) || policy.ValueKind != JsonValueKind.String
                || !joiner.TryGetProperty("attributionWindowSeconds", out var seconds) || !seconds.TryGetDouble(out var s) || !(s > 0) || s > TimeSpan.MaxValue.TotalSeconds)
            {
                return null;
            }

            return new ServerJoiner(enabled.GetBoolean(), policy.GetString()!, TimeSpan.FromSeconds(s));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>GET /health/live; null when the server answers, else why not.</summary>
    private static async Task<string?> CheckReachableAsync(HttpClient http, TimeSpan timeout, CancellationToken ct) =>
        (await GetAsync(http, "health/live", timeout, ct).ConfigureAwait(false)).Error;

    /// <summary>GET with a timeout: the body of a success, else why not (status, transport error or timeout).</summary>
    private static async Task<(byte[]? Body, string? Error)> GetAsync(HttpClient http, string path, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(timeout);
            using var response = await http.GetAsync(path, cts.Token).ConfigureAwait(false);
            return response.IsSuccessStatusCode
                ? (await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false), null)
                : (null, "GET /" + path + " answered " + (int)response.StatusCode);
        }
        catch (HttpRequestException e)
        {
            return (null, e.Message);
        }
        catch (OperationCanceledException)
        {
            return (null, "no answer within " + timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s");
        }
    }
}
