using System.Collections.Frozen;
using AdCtr.Server.Api;
using AdCtr.Server.Joiner;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.ConsolePage;

/// <summary>
/// The console page (<c>GET /</c> and its script and style under <c>/console/</c>, embedded in the assembly) and
/// the JSON feeds it reads beside the rest of the API: <c>GET /v1/models/reliability</c>,
/// <c>GET /v1/models/history</c> and <c>GET /v1/joiner</c>.
/// </summary>
internal static class ConsoleApi
{
    // The page loads nothing from elsewhere; the policy makes sure of it (and SVG is drawn through the DOM, not inline styles).
    private const string ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly FrozenDictionary<string, ConsoleAsset> Assets = ConsoleAsset.LoadAll();

    public static IEndpointRouteBuilder MapConsoleApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/", (HttpContext context) => Serve(context, "index.html")).WithName("Console").ExcludeFromDescription();
        routes.MapGet("/console/{file}", (string file, HttpContext context) => Serve(context, file)).WithName("ConsoleAsset").ExcludeFromDescription();

        var group = routes.MapGroup("/v1");
        group.MapGet("/models/reliability", Reliability).WithName("Reliability")
            .WithSummary("Reliability diagram of the recent progressive predictions: bins of equal weight, mean prediction against observed click rate");
        group.MapGet("/models/history", History).WithName("History")
            .WithSummary("A short history of the model, sampled every few seconds: version, examples/s, log loss, NE, calibration");
        group.MapGet("/joiner", JoinerState).WithName("Joiner").WithSummary("The joiner's policy, pending predictions and counters since start");
        return routes;
    }

    internal static Results<Ok<ReliabilityResponse>, ProblemHttpResult> Reliability(ReliabilityReader reader, int? bins)
    {
        var n = bins ?? ReliabilityReader.DefaultBins;
        if (n is < 1 or > ReliabilityReader.MaxBins)
        {
            return Problems.BadRequest("invalid bins", "bins must be in 1.." + ReliabilityReader.MaxBins);
        }

        return TypedResults.Ok(reader.Read(n));
    }

    internal static Results<Ok<ModelHistoryResponse>, ProblemHttpResult> History(ModelHistory history, int? limit)
    {
        var n = limit ?? history.Capacity;
        if (n < 1 || n > history.Capacity)
        {
            return Problems.BadRequest("invalid limit", "limit must be in 1.." + history.Capacity);
        }

        return TypedResults.Ok(new ModelHistoryResponse(history.Interval.TotalSeconds, history.Capacity, history.Read(n)));
    }

    internal static Ok<JoinerStateResponse> JoinerState(IServiceProvider services, IOptions<JoinerOptions> options)
    {
        var o = options.Value;
        var joiner = services.GetService<ImpressionJoiner>();
        if (joiner is null)
        {
            return TypedResults.Ok(new JoinerStateResponse(false, o.Policy, o.AttributionWindow.TotalSeconds, o.MaxPending, 0, 0, 0, 0, 0, 0, 0, 0, new JoinerEventCounts(0, 0, 0, 0, 0, 0, 0)));
        }

        var s = joiner.Statistics();
        return TypedResults.Ok(new JoinerStateResponse(
            o.Enabled,
            o.Policy,
            o.AttributionWindow.TotalSeconds,
            o.MaxPending,
            s.Pending,
            s.Served,
            s.Positives,
            s.Negatives,
            s.NegativesDownsampled,
            s.ExpiredInWindow,
            s.ExpiredEarly,
            s.ExpiredWithoutImpression,
            new JoinerEventCounts(
                Count(s, EventOutcome.Accepted),
                Count(s, EventOutcome.Duplicate),
                Count(s, EventOutcome.ClickWithoutImpression),
                Count(s, EventOutcome.ClickAfterWindow),
                Count(s, EventOutcome.ImpressionAfterWindow),
                Count(s, EventOutcome.UnknownImpression),
                Count(s, EventOutcome.Invalid))));
    }

    private static long Count(JoinerStatistics s, EventOutcome outcome) => s.Events.GetValueOrDefault(outcome);

    private static IResult Serve(HttpContext context, string file)
    {
        if (!Assets.TryGetValue(file, out var asset))
        {
            return Problems.NotFound("not found", "the console has no file '" + file + "'");
        }

        var headers = context.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        if (context.Request.Headers.IfNoneMatch == asset.ETag)
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        headers.ETag = asset.ETag;
        return TypedResults.Bytes(asset.Content, asset.ContentType);
    }
}

/// <summary>One file of the page, embedded in the assembly (so it is served the same from <c>dotnet run</c> and a published folder).</summary>
internal sealed record ConsoleAsset(byte[] Content, string ContentType, string ETag)
{
    private const string Prefix = "console/";

    public static FrozenDictionary<string, ConsoleAsset> LoadAll()
    {
        var assembly = typeof(ConsoleAsset).Assembly;
        var assets = new Dictionary<string, ConsoleAsset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var file = name[Prefix.Length..];
            var type = Path.GetExtension(file) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            var etag = "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes).AsSpan(0, 8)) + "\"";
            assets[file] = new ConsoleAsset(bytes, type, etag);
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }
}

/// <summary>What <c>GET /v1/joiner</c> returns: options, predictions pending now, and counters since start.</summary>
internal sealed record JoinerStateResponse(
    bool Enabled,
    string Policy,
    double AttributionWindowSeconds,
    int MaxPending,
    long Pending,
    long Served,
    long Positives,
    long Negatives,
    long NegativesDownsampled,
    long ExpiredInWindow,
    long ExpiredEarly,
    long ExpiredWithoutImpression,
    JoinerEventCounts Events);

/// <summary>Events of <c>/v1/events</c> by outcome since start.</summary>
internal sealed record JoinerEventCounts(
    long Accepted,
    long Duplicate,
    long ClickWithoutImpression,
    long ClickAfterWindow,
    long ImpressionAfterWindow,
    long UnknownImpression,
    long Invalid);
