using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using AdCtr.LoadTests.Engine;
using AdCtr.LoadTests.Profiles;

namespace AdCtr.LoadTests.Memory;

/// <summary>Sends one request outside any measured load and returns status and body (<c>HttpLoadTransport.ExchangeAsync</c>).</summary>
public delegate Task<(int Status, byte[] Body)> HttpExchange(HttpMethod method, string path, LoadRequest? body, CancellationToken cancellationToken);

/// <summary>What the <c>memory</c> command does.</summary>
public sealed record MemoryOptions
{
    public int Campaigns { get; init; } = 10_000;

    /// <summary>Examples per campaign; 200 gives about 400 campaign coordinates each (<see cref="RichVocabulary.ExpectedCampaignCoordinates"/>).</summary>
    public int ExamplesPerCampaign { get; init; } = 200;

    /// <summary>Examples per NDJSON request.</summary>
    public int BatchSize { get; init; } = 1000;

    public int Seed { get; init; } = 11;

    /// <summary>Readings of /metrics after the feed, until two in a row differ by at most 1 % (at most this many).</summary>
    public int SettlePolls { get; init; } = 10;

    public TimeSpan SettleInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Prefix of this run's campaign ids; unique per run so earlier runs' campaigns are not counted.</summary>
    public string CampaignPrefix { get; init; } = "mem-" + Engine.FreshnessProbe.NewRunId() + "-";

    /// <summary>Batches that may fail before the run gives up.</summary>
    public int MaxBatchErrors { get; init; } = 10;
}

/// <summary>Memory figures read from the server's <c>/metrics</c>.</summary>
/// <param name="WorkingSetBytes"><c>dotnet_process_memory_working_set_bytes</c> (the resident set on Linux), else <c>process_resident_memory_bytes</c>.</param>
/// <param name="GcHeapBytes">Sum of <c>dotnet_gc_last_collection_heap_size_bytes</c> over the generations (as of the last GC).</param>
/// <param name="GcCommittedBytes"><c>dotnet_gc_last_collection_memory_committed_size_bytes</c>.</param>
public sealed record MemorySample(double? WorkingSetBytes, double? GcHeapBytes, double? GcCommittedBytes)
{
    /// <summary>Reads the figures from Prometheus text (0.0.4); absent metrics are null.</summary>
    public static MemorySample Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        double? workingSet = null, resident = null, heap = null, committed = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            // "name{labels} value [timestamp]": the value follows the last '}' (or the name) after a space.
            var nameEnd = line.IndexOfAny(['{', ' ']);
            if (nameEnd <= 0)
            {
                continue;
            }

            var name = line[..nameEnd];
            var rest = line[(line[nameEnd] == '{' ? line.IndexOf('}', nameEnd) + 1 : nameEnd)..].Trim();
            var space = rest.IndexOf(' ', StringComparison.Ordinal);
            if (!double.TryParse(space < 0 ? rest : rest[..space], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                continue;
            }

            switch (name)
            {
                case "dotnet_process_memory_working_set_bytes": workingSet = value; break;
                case "process_resident_memory_bytes": resident = value; break;
                case "dotnet_gc_last_collection_heap_size_bytes": heap = (heap ?? 0) + value; break;
                case "dotnet_gc_last_collection_memory_committed_size_bytes": committed = value; break;
            }
        }

        return new MemorySample(workingSet ?? resident, heap, committed);
    }
}

/// <summary>The sizes <c>GET /v1/models</c> reports.</summary>
public sealed record ModelSizes(long GlobalCoordinates, long GlobalBytes, int Campaigns, long CampaignCoordinates, long CampaignBytes);

/// <summary>The result of a <c>memory</c> run.</summary>
public sealed record MemoryReport
{
    public required DateTimeOffset StartedAt { get; init; }

    public required string Machine { get; init; }

    public required string TargetUrl { get; init; }

    public required int Campaigns { get; init; }

    public required int ExamplesPerCampaign { get; init; }

    public required int BatchSize { get; init; }

    public required string CampaignPrefix { get; init; }

    public long ExamplesSent { get; set; }

    public long ExamplesAccepted { get; set; }

    public int BatchErrors { get; set; }

    public double FeedSeconds { get; set; }

    /// <summary>This run's campaigns the server lists (<c>GET /v1/campaigns</c>).</summary>
    public int CampaignsFound { get; set; }

    /// <summary>Mean of the server-reported coefficients over this run's campaigns.</summary>
    public double MeanCoordinatesPerCampaign { get; set; }

    public long MinCoordinatesPerCampaign { get; set; }

    public long MaxCoordinatesPerCampaign { get; set; }

    /// <summary>Sum of the server-reported model bytes of this run's campaigns.</summary>
    public long CampaignModelBytes { get; set; }

    /// <summary>What the generator expects per campaign from the example vocabularies (a check on the figure above).</summary>
    public double ExpectedCoordinatesPerCampaign { get; set; }

    public ModelSizes? ModelsBefore { get; set; }

    public ModelSizes? ModelsAfter { get; set; }

    public MemorySample? Before { get; set; }

    public MemorySample? After { get; set; }

    /// <summary>/metrics readings taken after the feed until the working set settled.</summary>
    public int SettleReadings { get; set; }

    public double? RssDeltaBytes => After?.WorkingSetBytes - Before?.WorkingSetBytes;

    public double? RssPerCampaignBytes => RssDeltaBytes / (CampaignsFound > 0 ? CampaignsFound : Campaigns);

    public double? ModelBytesPerCampaign => CampaignsFound > 0 ? CampaignModelBytes / (double)CampaignsFound : null;

    public string? Error { get; set; }

    public string ToJson() => JsonSerializer.Serialize(this, MemoryJsonContext.Default.MemoryReport);

    public static MemoryReport FromJson(string json) =>
        JsonSerializer.Deserialize(json, MemoryJsonContext.Default.MemoryReport) ?? throw new InvalidDataException("empty report");

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine("# AdCtr memory report").AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- started: {StartedAt:u}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- machine: {Machine}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- target: {TargetUrl}");
        if (Error is not null)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"- **error: {Error}**");
        }

        sb.AppendLine().AppendLine("| figure | value |").AppendLine("|---|---:|");
        Row(sb, "campaigns (requested / found on the server)", $"{Campaigns} / {CampaignsFound}");
        Row(sb, "examples per campaign", Campaigns > 0 ? ExamplesPerCampaign.ToString(CultureInfo.InvariantCulture) : "-");
        Row(sb, "examples sent / accepted", $"{ExamplesSent} / {ExamplesAccepted}");
        Row(sb, "NDJSON batches (size / failed)", $"{BatchSize} / {BatchErrors}");
        Row(sb, "feed time s (examples/s)", FormattableString.Invariant($"{FeedSeconds:0.0} ({(FeedSeconds > 0 ? ExamplesSent / FeedSeconds : 0):0})"));
        Row(sb, "coordinates per campaign: mean (min..max)", FormattableString.Invariant($"{MeanCoordinatesPerCampaign:0.0} ({MinCoordinatesPerCampaign}..{MaxCoordinatesPerCampaign})"));
        Row(sb, "coordinates per campaign expected from the generator", FormattableString.Invariant($"{ExpectedCoordinatesPerCampaign:0.0}"));
        Row(sb, "campaign model bytes, this run's campaigns (server-reported)", Mb(CampaignModelBytes));
        Row(sb, "campaign model bytes per campaign", Bytes(ModelBytesPerCampaign));
        Row(sb, "/v1/models campaigns: count, coordinates, bytes (before -> after)",
            $"{Sizes(ModelsBefore, m => m.Campaigns.ToString(CultureInfo.InvariantCulture))} -> {Sizes(ModelsAfter, m => m.Campaigns.ToString(CultureInfo.InvariantCulture))}, " +
            $"{Sizes(ModelsBefore, m => m.CampaignCoordinates.ToString(CultureInfo.InvariantCulture))} -> {Sizes(ModelsAfter, m => m.CampaignCoordinates.ToString(CultureInfo.InvariantCulture))}, " +
            $"{Sizes(ModelsBefore, m => Mb(m.CampaignBytes))} -> {Sizes(ModelsAfter, m => Mb(m.CampaignBytes))}");
        Row(sb, "/v1/models global: coordinates, bytes (after)", $"{Sizes(ModelsAfter, m => m.GlobalCoordinates.ToString(CultureInfo.InvariantCulture))}, {Sizes(ModelsAfter, m => Mb(m.GlobalBytes))}");
        Row(sb, "server RSS before -> after", $"{Mb(Before?.WorkingSetBytes)} -> {Mb(After?.WorkingSetBytes)}");
        Row(sb, "server RSS growth", Mb(RssDeltaBytes));
        Row(sb, "server RSS growth per campaign", Bytes(RssPerCampaignBytes));
        Row(sb, "GC heap before -> after (as of the last GC)", $"{Mb(Before?.GcHeapBytes)} -> {Mb(After?.GcHeapBytes)}");
        Row(sb, "GC committed before -> after", $"{Mb(Before?.GcCommittedBytes)} -> {Mb(After?.GcCommittedBytes)}");
        Row(sb, "/metrics readings to settle", SettleReadings.ToString(CultureInfo.InvariantCulture));
        sb.AppendLine().AppendLine("RSS is the server's `dotnet_process_memory_working_set_bytes` (the resident set on Linux), read from /metrics before the feed " +
            "and after it once two readings in a row differ by at most 1 %. Coordinates and model bytes are what `GET /v1/campaigns` reports for this run's campaigns.");
        return sb.ToString();
    }

    private static void Row(StringBuilder sb, string name, string value) => sb.Append("| ").Append(name).Append(" | ").Append(value).AppendLine(" |");

    private static string Sizes(ModelSizes? m, Func<ModelSizes, string> pick) => m is null ? "-" : pick(m);

    private static string Mb(double? bytes) => bytes is { } b ? (b / (1024.0 * 1024.0)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB" : "-";

    private static string Bytes(double? bytes) => bytes is { } b ? b.ToString("0", CultureInfo.InvariantCulture) + " B" : "-";
}

/// <summary>
/// Measures the server's memory with many campaign models (issue #6: "server RSS with 10,000 active campaign
/// models of realistic size"): reads /metrics and /v1/models, feeds examples spread evenly over the campaigns in
/// NDJSON batches (<see cref="BodyFactory.RichExamples"/>), reads again after the memory settles, and sums this run's
/// campaigns from <c>GET /v1/campaigns</c>.
/// </summary>
public sealed class MemoryProbe(HttpExchange exchange, MemoryOptions options, Func<TimeSpan, CancellationToken, Task>? delay = null, TextWriter? console = null)
{
    private readonly Func<TimeSpan, CancellationToken, Task> _delay = delay ?? Task.Delay;

    public async Task<MemoryReport> RunAsync(Uri target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var report = new MemoryReport
        {
            StartedAt = DateTimeOffset.UtcNow,
            Machine = Reports.SuiteReport.MachineDescription(),
            TargetUrl = target.ToString(),
            Campaigns = options.Campaigns,
            ExamplesPerCampaign = options.ExamplesPerCampaign,
            BatchSize = options.BatchSize,
            CampaignPrefix = options.CampaignPrefix,
            ExpectedCoordinatesPerCampaign = RichVocabulary.ExpectedCampaignCoordinates(options.ExamplesPerCampaign),
        };
        try
        {
            report.Before = await ReadMemoryAsync(cancellationToken).ConfigureAwait(false);
            report.ModelsBefore = await ReadModelsAsync(cancellationToken).ConfigureAwait(false);
            await FeedAsync(report, cancellationToken).ConfigureAwait(false);
            await SettleAsync(report, cancellationToken).ConfigureAwait(false);
            report.ModelsAfter = await ReadModelsAsync(cancellationToken).ConfigureAwait(false);
            await SumCampaignsAsync(report, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidDataException or JsonException or KeyNotFoundException or OperationCanceledException)
        {
            report.Error = e.Message;
        }

        return report;
    }

    private async Task FeedAsync(MemoryReport report, CancellationToken cancellationToken)
    {
        var data = new DataSpec();
        var factory = new BodyFactory(options.Seed, data, DateTimeOffset.UtcNow);
        var total = (long)options.Campaigns * options.ExamplesPerCampaign;
        var watch = Stopwatch.StartNew();
        Task<(int Status, byte[] Body)>? inFlight = null;
        var inFlightCount = 0;
        var nextReport = total / 10;
        // Bounded by total / batch size iterations; the next batch is built while the previous one is in flight.
        for (long first = 0; first < total || inFlight is not null;)
        {
            Task<(int Status, byte[] Body)>? next = null;
            var count = (int)Math.Min(options.BatchSize, total - first);
            if (count > 0)
            {
                var body = factory.RichExamples(options.CampaignPrefix, options.Campaigns, first, count);
                next = exchange(HttpMethod.Post, "/v1/examples", new LoadRequest("examples", "/v1/examples", BodyFactory.NdjsonType, body), cancellationToken);
                first += count;
                report.ExamplesSent += count;
            }

            if (inFlight is not null)
            {
                await CompleteAsync(report, inFlight, inFlightCount).ConfigureAwait(false);
            }

            inFlight = next;
            inFlightCount = count;
            if (report.ExamplesSent >= nextReport && nextReport > 0)
            {
                console?.WriteLine(FormattableString.Invariant($"   .. {report.ExamplesSent} of {total} examples sent, {watch.Elapsed.TotalSeconds:0.0} s"));
                nextReport += Math.Max(1, total / 10);
            }
        }

        report.FeedSeconds = watch.Elapsed.TotalSeconds;
    }

    private async Task CompleteAsync(MemoryReport report, Task<(int Status, byte[] Body)> call, int count)
    {
        var (status, body) = await call.ConfigureAwait(false);
        if (status is >= 200 and < 300)
        {
            using var doc = JsonDocument.Parse(body);
            report.ExamplesAccepted += doc.RootElement.GetProperty("accepted").GetInt64();
            return;
        }

        report.BatchErrors++;
        console?.WriteLine("   batch of " + count + " failed: status " + status);
        if (report.BatchErrors > options.MaxBatchErrors)
        {
            throw new InvalidDataException("more than " + options.MaxBatchErrors + " batches failed (last status " + status + ")");
        }
    }

    private async Task SettleAsync(MemoryReport report, CancellationToken cancellationToken)
    {
        MemorySample? previous = null;
        // Bounded: at most SettlePolls readings.
        for (var i = 0; i < options.SettlePolls; i++)
        {
            if (i > 0)
            {
                await _delay(options.SettleInterval, cancellationToken).ConfigureAwait(false);
            }

            var sample = await ReadMemoryAsync(cancellationToken).ConfigureAwait(false);
            report.After = sample;
            report.SettleReadings = i + 1;
            if (previous?.WorkingSetBytes is { } p && sample.WorkingSetBytes is { } s && Math.Abs(s - p) <= 0.01 * p)
            {
                return;
            }

            previous = sample;
        }
    }

    private async Task SumCampaignsAsync(MemoryReport report, CancellationToken cancellationToken)
    {
        const int page = 1000;
        long coordinates = 0, bytes = 0, min = long.MaxValue, max = 0;
        var found = 0;
        var total = int.MaxValue;
        // Bounded by the server's campaign count (read from the first page) and a cap of 10,000 pages.
        for (var offset = 0; offset < total && offset < 10_000 * page; offset += page)
        {
            var (status, body) = await exchange(HttpMethod.Get, FormattableString.Invariant($"/v1/campaigns?offset={offset}&limit={page}"), null, cancellationToken).ConfigureAwait(false);
            if (status != 200)
            {
                throw new InvalidDataException("GET /v1/campaigns gave status " + status);
            }

            using var doc = JsonDocument.Parse(body);
            total = doc.RootElement.GetProperty("total").GetInt32();
            foreach (var c in doc.RootElement.GetProperty("campaigns").EnumerateArray())
            {
                if (!(c.GetProperty("campaignId").GetString() ?? "").StartsWith(options.CampaignPrefix, StringComparison.Ordinal))
                {
                    continue;
                }

                var k = c.GetProperty("coefficients").GetInt64();
                found++;
                coordinates += k;
                bytes += c.GetProperty("modelBytes").GetInt64();
                min = Math.Min(min, k);
                max = Math.Max(max, k);
            }
        }

        report.CampaignsFound = found;
        report.MeanCoordinatesPerCampaign = found > 0 ? coordinates / (double)found : 0;
        report.MinCoordinatesPerCampaign = found > 0 ? min : 0;
        report.MaxCoordinatesPerCampaign = max;
        report.CampaignModelBytes = bytes;
    }

    private async Task<MemorySample> ReadMemoryAsync(CancellationToken cancellationToken)
    {
        var (status, body) = await exchange(HttpMethod.Get, "/metrics", null, cancellationToken).ConfigureAwait(false);
        return status == 200 ? MemorySample.Parse(Encoding.UTF8.GetString(body)) : throw new InvalidDataException("GET /metrics gave status " + status);
    }

    private async Task<ModelSizes> ReadModelsAsync(CancellationToken cancellationToken)
    {
        var (status, body) = await exchange(HttpMethod.Get, "/v1/models", null, cancellationToken).ConfigureAwait(false);
        if (status != 200)
        {
            throw new InvalidDataException("GET /v1/models gave status " + status);
        }

        using var doc = JsonDocument.Parse(body);
        var global = doc.RootElement.GetProperty("global");
        var campaigns = doc.RootElement.GetProperty("campaigns");
        return new ModelSizes(global.GetProperty("coordinates").GetInt64(), global.GetProperty("bytes").GetInt64(),
            campaigns.GetProperty("count").GetInt32(), campaigns.GetProperty("coordinates").GetInt64(), campaigns.GetProperty("bytes").GetInt64());
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(MemoryReport))]
internal sealed partial class MemoryJsonContext : JsonSerializerContext;
