using System.IO.Compression;
using AdCtr.Learning.Features;

namespace AdCtr.Learning.Readers;

/// <summary>Opens streaming example readers over logs in the formats of <see cref="LogFormat"/>.</summary>
public static class ExampleReaders
{
    /// <summary>The path that means standard input.</summary>
    public const string StandardInput = "-";

    /// <summary>
    /// Opens a reader over a stream. The reader owns the stream (disposes it) unless
    /// <see cref="ReaderOptions.LeaveOpen"/>. An Avazu reader reads the header line here and throws
    /// <see cref="InvalidDataException"/> when it is missing or lacks the <c>click</c> and <c>hour</c> columns.
    /// </summary>
    public static IExampleReader Open(Stream stream, LogFormat format, FeatureSpec spec, ReaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(spec);
        options ??= ReaderOptions.Default;
        return format switch
        {
            LogFormat.Criteo => new CriteoReader(stream, spec, options),
            LogFormat.Avazu => new AvazuReader(stream, spec, options),
            LogFormat.AdCtrJson => new AdCtrJsonReader(stream, spec, options),
            LogFormat.Csv => new CsvReader(stream, spec, options),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown log format"),
        };
    }

    /// <summary>
    /// Opens a reader over a file: <c>-</c> is standard input, a path ending in <c>.gz</c> is gzip-decompressed
    /// on the fly.
    /// </summary>
    public static IExampleReader OpenFile(string path, LogFormat format, FeatureSpec spec, ReaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= ReaderOptions.Default;
        var stream = OpenStream(path);
        try
        {
            // The reader owns the stream it was given here, whatever the caller's LeaveOpen.
            var owning = options.LeaveOpen ? CopyWithLeaveOpen(options, false) : options;
            return Open(stream, format, spec, owning);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The raw byte stream of a path: standard input for <c>-</c>, decompressed for <c>.gz</c>.</summary>
    public static Stream OpenStream(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path == StandardInput)
        {
            return Console.OpenStandardInput();
        }

        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            return new GZipStream(file, CompressionMode.Decompress, leaveOpen: false);
        }

        // No FileStream buffer: the reader reads straight into its own large buffer.
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
    }

    private static ReaderOptions CopyWithLeaveOpen(ReaderOptions options, bool leaveOpen) => new()
    {
        Strict = options.Strict,
        MaxReportedMalformed = options.MaxReportedMalformed,
        BufferBytes = options.BufferBytes,
        MaxLineBytes = options.MaxLineBytes,
        LeaveOpen = leaveOpen,
        RejectUnknownMembers = options.RejectUnknownMembers,
    };
}
