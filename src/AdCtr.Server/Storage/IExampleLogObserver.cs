namespace AdCtr.Server.Storage;

/// <summary>Told by the example log's writer loop what it wrote and how long each fsync took (metrics).</summary>
public interface IExampleLogObserver
{
    /// <summary>Bytes (records with their headers) written to a segment file by one write call.</summary>
    void Written(long bytes);

    /// <summary>One fsync of a segment file took <paramref name="seconds"/> (wall clock).</summary>
    void Synced(double seconds);
}
