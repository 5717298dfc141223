using System.Buffers;
using System.IO.Compression;
using System.Text.Json;

namespace AdCtr.Simulator.World;

/// <summary>Output formats of <c>adctr-sim generate</c>.</summary>
public enum ExampleFormat
{
    /// <summary>One <see cref="ExampleRecord"/> JSON object per line (keeps weight and trueCtr).</summary>
    Ndjson,

    /// <summary>Criteo Display Advertising Challenge TSV (no weight, no trueCtr: the format has no such columns).</summary>
    Criteo,
}

/// <summary>
/// Streams example records to a byte stream in constant memory: records are encoded into a reusable buffer that is
/// copied to the stream every <see cref="FlushThreshold"/> bytes. Dispose to flush and close the stream.
/// </summary>
public abstract class ExampleWriter : IDisposable
{
    /// <summary>Bytes buffered before they are written to the stream.</summary>
    protected const int FlushThreshold = 1 << 16;

    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private bool _disposed;

    protected ExampleWriter(Stream stream, bool ownsStream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _ownsStream = ownsStream;
        Buffer = new ArrayBufferWriter<byte>(FlushThreshold * 2);
    }

    /// <summary>Records written so far.</summary>
    public long Count { get; private set; }

    /// <summary>The pending encoded bytes.</summary>
    protected ArrayBufferWriter<byte> Buffer { get; }

    /// <summary>A writer for <paramref name="format"/> over <paramref name="stream"/>.</summary>
    public static ExampleWriter Create(Stream stream, ExampleFormat format, bool ownsStream = true) => format switch
    {
        ExampleFormat.Ndjson => new NdjsonExampleWriter(stream, ownsStream),
        ExampleFormat.Criteo => new CriteoExampleWriter(stream, ownsStream),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    /// <summary>
    /// A writer to a file (gzip-compressed when the name ends in <c>.gz</c>), or to standard output for <c>-</c>.
    /// </summary>
    public static ExampleWriter Open(string path, ExampleFormat format)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path == "-")
        {
            return Create(Console.OpenStandardOutput(), format);
        }

        Stream stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            stream = new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: false);
        }

        return Create(stream, format);
    }

    /// <summary>Encodes one record.</summary>
    public void Write(in ExampleRecord record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Encode(record);
        Count++;
        if (Buffer.WrittenCount >= FlushThreshold)
        {
            Drain();
        }
    }

    /// <summary>Writes pending bytes to the stream and flushes it.</summary>
    public void Flush()
    {
        Drain();
        _stream.Flush();
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (_disposed || !disposing)
        {
            return;
        }

        Flush();
        _disposed = true;
        if (_ownsStream)
        {
            _stream.Dispose();
        }
    }

    /// <summary>Appends one encoded record (with its line ending) to <see cref="Buffer"/>.</summary>
    protected abstract void Encode(in ExampleRecord record);

    /// <summary>Called before buffered bytes are copied to the stream.</summary>
    protected virtual void BeforeDrain()
    {
    }

    private void Drain()
    {
        BeforeDrain();
        if (Buffer.WrittenCount > 0)
        {
            _stream.Write(Buffer.WrittenSpan);
            Buffer.ResetWrittenCount();
        }
    }

    /// <summary>Writes <c>yyyy-MM-ddTHH:mm:ss.fffZ</c> (24 bytes) into <paramref name="destination"/>.</summary>
    protected static void FormatTimestamp(DateTime time, Span<byte> destination)
    {
        Digits(destination[..4], time.Year);
        destination[4] = (byte)'-';
        Digits(destination.Slice(5, 2), time.Month);
        destination[7] = (byte)'-';
        Digits(destination.Slice(8, 2), time.Day);
        destination[10] = (byte)'T';
        Digits(destination.Slice(11, 2), time.Hour);
        destination[13] = (byte)':';
        Digits(destination.Slice(14, 2), time.Minute);
        destination[16] = (byte)':';
        Digits(destination.Slice(17, 2), time.Second);
        destination[19] = (byte)'.';
        Digits(destination.Slice(20, 3), time.Millisecond);
        destination[23] = (byte)'Z';
    }

    private static void Digits(Span<byte> destination, int value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }
}

/// <summary>NDJSON: one <see cref="ExampleRecord"/> object per line, written with a <see cref="Utf8JsonWriter"/>.</summary>
public sealed class NdjsonExampleWriter : ExampleWriter
{
    private static readonly JsonEncodedText TimestampName = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText LabelName = JsonEncodedText.Encode("label");
    private static readonly JsonEncodedText WeightName = JsonEncodedText.Encode("weight");
    private static readonly JsonEncodedText CampaignIdName = JsonEncodedText.Encode("campaignId");
    private static readonly JsonEncodedText AdIdName = JsonEncodedText.Encode("adId");
    private static readonly JsonEncodedText AdvertiserIdName = JsonEncodedText.Encode("advertiserId");
    private static readonly JsonEncodedText ContextName = JsonEncodedText.Encode("context");
    private static readonly JsonEncodedText FeaturesName = JsonEncodedText.Encode("features");
    private static readonly JsonEncodedText TrueCtrName = JsonEncodedText.Encode("trueCtr");
    private static readonly JsonEncodedText ClickDelayName = JsonEncodedText.Encode("clickDelaySeconds");
    private static readonly JsonEncodedText[] ContextNames = Encode(ExampleRecord.ContextFieldNames);
    private static readonly JsonEncodedText[] FeatureNames = Encode(ExampleRecord.FeatureFieldNames);

    private readonly Utf8JsonWriter _json;

    public NdjsonExampleWriter(Stream stream, bool ownsStream = true)
        : base(stream, ownsStream)
    {
        _json = new Utf8JsonWriter(Buffer, new JsonWriterOptions { SkipValidation = true });
    }

    protected override void Encode(in ExampleRecord record)
    {
        var json = _json;
        json.WriteStartObject();
        Span<byte> scratch = stackalloc byte[32];
        FormatTimestamp(record.Timestamp, scratch);
        json.WriteString(TimestampName, scratch[..24]);
        json.WriteNumber(LabelName, record.Label);
        json.WriteNumber(WeightName, record.Weight);
        json.WriteString(CampaignIdName, record.CampaignId);
        json.WriteString(AdIdName, record.AdId);
        json.WriteString(AdvertiserIdName, record.AdvertiserId);
        json.WriteStartObject(ContextName);
        for (var i = 0; i < ContextNames.Length; i++)
        {
            json.WriteString(ContextNames[i], record.GetContextValue(i));
        }

        json.WriteEndObject();
        json.WriteStartObject(FeaturesName);
        for (var i = 0; i < FeatureNames.Length; i++)
        {
            json.WriteString(FeatureNames[i], record.GetFeatureValue(i));
        }

        json.WriteEndObject();
        WriteRounded(json, TrueCtrName, record.TrueCtr, scratch);
        if (record.ClickDelaySeconds is { } delay)
        {
            WriteRounded(json, ClickDelayName, delay, scratch);
        }

        json.WriteEndObject();
        json.Flush();
        json.Reset(Buffer);
        Buffer.GetSpan(1)[0] = (byte)'\n';
        Buffer.Advance(1);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _json.Dispose();
        }
    }

    // Six significant digits: ample against the truth, and it keeps lines short and hides last-bit differences of
    // the platform's exp/log between machines.
    private static void WriteRounded(Utf8JsonWriter json, JsonEncodedText name, double value, Span<byte> scratch)
    {
        if (value.TryFormat(scratch, out var written, "G6", System.Globalization.CultureInfo.InvariantCulture))
        {
            json.WritePropertyName(name);
            json.WriteRawValue(scratch[..written], skipInputValidation: true);
        }
        else
        {
            json.WriteNumber(name, value);
        }
    }

    private static JsonEncodedText[] Encode(string[] names)
    {
        var result = new JsonEncodedText[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            result[i] = JsonEncodedText.Encode(names[i]);
        }

        return result;
    }
}

/// <summary>
/// Criteo Display Advertising Challenge TSV: label, I1..I13 (integers), C1..C26 (categorical, 8 hex digits), empty =
/// missing; 40 tab-separated columns. Mapping: I1 = hour, I2 = position, I3 = weekday; C1 = campaignId, C2 = adId,
/// C3 = advertiserId, C4 = ad_category, C5 = user_age, C6 = gender, C7 = region, C8 = device, C9 = interest,
/// C10 = site (each the 32-bit FNV-1a hash of "Ck=value", lowercase hex); all other columns empty. Criteo has no
/// weight or truth column, so weight and trueCtr are not written (use ndjson to keep them).
/// </summary>
public sealed class CriteoExampleWriter : ExampleWriter
{
    /// <summary>Columns per line: label + 13 integer + 26 categorical.</summary>
    public const int ColumnCount = 40;

    private const int CategoricalUsed = 10;

    public CriteoExampleWriter(Stream stream, bool ownsStream = true)
        : base(stream, ownsStream)
    {
    }

    /// <summary>32-bit FNV-1a of the UTF-16 code units of <c>"C{column}=" + value</c> (column 1-based).</summary>
    public static uint HashCategorical(int column, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        const uint Prime = 16777619;
        var h = 2166136261;
        h = (h ^ 'C') * Prime;
        if (column >= 10)
        {
            h = (h ^ (uint)('0' + (column / 10))) * Prime;
        }

        h = (h ^ (uint)('0' + (column % 10))) * Prime;
        h = (h ^ '=') * Prime;
        foreach (var c in value)
        {
            h = (h ^ c) * Prime;
        }

        return h;
    }

    protected override void Encode(in ExampleRecord record)
    {
        // Label + 13 integers (3 used) + 26 categoricals (10 used, 9 bytes each with the tab) fits in 256 bytes.
        var span = Buffer.GetSpan(256);
        var pos = 0;
        span[pos++] = (byte)('0' + record.Label);
        pos += WriteIntColumn(span[pos..], record.Hour);
        pos += WriteIntColumn(span[pos..], record.Position);
        pos += WriteIntColumn(span[pos..], record.Weekday);
        for (var i = 4; i <= 13; i++)
        {
            span[pos++] = (byte)'\t';
        }

        for (var c = 1; c <= CategoricalUsed; c++)
        {
            span[pos++] = (byte)'\t';
            var value = CategoricalValue(record, c);
            var hash = HashCategorical(c, value);
            hash.TryFormat(span.Slice(pos, 8), out _, "x8", System.Globalization.CultureInfo.InvariantCulture);
            pos += 8;
        }

        for (var c = CategoricalUsed + 1; c <= 26; c++)
        {
            span[pos++] = (byte)'\t';
        }

        span[pos++] = (byte)'\n';
        Buffer.Advance(pos);
    }

    private static string CategoricalValue(in ExampleRecord r, int column) => column switch
    {
        1 => r.CampaignId,
        2 => r.AdId,
        3 => r.AdvertiserId,
        4 => r.AdCategory,
        5 => r.UserAge,
        6 => r.Gender,
        7 => r.Region,
        8 => r.Device,
        9 => r.Interest,
        _ => r.Site,
    };

    // The integer fields are already decimal strings of small numbers: copy their ASCII digits.
    private static int WriteIntColumn(Span<byte> destination, string digits)
    {
        destination[0] = (byte)'\t';
        for (var i = 0; i < digits.Length; i++)
        {
            destination[i + 1] = (byte)digits[i];
        }

        return digits.Length + 1;
    }
}
