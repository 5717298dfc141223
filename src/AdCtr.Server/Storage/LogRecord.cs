namespace AdCtr.Server.Storage;

/// <summary>
/// One record read from the <see cref="ExampleLog"/>. <see cref="Payload"/> points into the reader's reusable
/// buffer: it is valid only until the enumerator moves on; copy it to keep it.
/// </summary>
public readonly struct LogRecord
{
    internal LogRecord(LogPosition position, ReadOnlyMemory<byte> payload, bool endsBatch = true)
    {
        Position = position;
        Payload = payload;
        EndsBatch = endsBatch;
    }

    /// <summary>True for the last record of the batch it was appended with (a single record is a batch of one).</summary>
    public bool EndsBatch { get; }

    /// <summary>Position of the record's header.</summary>
    public LogPosition Position { get; }

    /// <summary>The payload as appended.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>Position right after this record (where reading resumes to skip it).</summary>
    public LogPosition NextPosition => new(Position.Value + ExampleLog.RecordHeaderBytes + Payload.Length);
}
