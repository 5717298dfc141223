using AdCtr.Learning.Hashing;
using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;

namespace AdCtr.Server.Storage;

/// <summary>A snapshot file: its path, sequence number (from the name), size and last write time.</summary>
public sealed record SnapshotInfo(string Path, long Sequence, long Length, DateTimeOffset LastWriteUtc);

/// <summary>A snapshot <see cref="SnapshotStore.LoadNewestAsync"/> passed over, and why.</summary>
public sealed record SnapshotRejection(SnapshotInfo Snapshot, string Reason);

/// <summary>Outcome of <see cref="SnapshotStore.LoadNewestAsync"/>: the loaded value and snapshot when <see cref="Found"/>, and every snapshot rejected before it.</summary>
public sealed record SnapshotLoadResult<T>(bool Found, T? Value, SnapshotInfo? Snapshot, IReadOnlyList<SnapshotRejection> Rejected);

/// <summary>
/// Stores snapshots as opaque content in files <c>snapshot-{sequence:D10}.bin</c>, written atomically, keeping
/// the newest <see cref="SnapshotsToKeep"/>.
/// </summary>
/// <remarks>
/// <para>Write: the content goes to <c>snapshot-N.bin.tmp</c> behind a 32-byte header (magic <c>ADCTRSNP</c>, format
/// version, CRC32C and length of the content, sequence), the file is fsynced (<c>Flush(true)</c>), renamed over
/// the final name (<c>rename(2)</c>: atomic, a reader sees the old file or the new one, never a mix), then the
/// directory is fsynced (libc <c>fsync</c> on Linux, see <c>DirectorySync</c>) so the rename survives a power loss.
/// A crash before the rename leaves a <c>.tmp</c> file that is ignored and deleted when a store is next created.</para>
/// <para>Read: the header and CRC are checked before the caller sees the content; the caller may reject content
/// itself (throw <see cref="InvalidDataException"/>) and <see cref="LoadNewestAsync"/> falls back to the next older
/// snapshot. The content format belongs to the caller (AdCtr.Learning).</para>
/// <para>One process writes a snapshot directory; writes through one instance are serialised.</para>
/// </remarks>
public sealed class SnapshotStore
{
    /// <summary>Bytes of the header before the content.</summary>
    public const int HeaderBytes = 32;

    private const ushort FormatVersion = 1;
    private const string Prefix = "snapshot-";
    private const string Suffix = ".bin";
    private const string TempSuffix = ".tmp";
    private const int VerifyBufferBytes = 1 << 20;

    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly StorageFileSystem _fs;

    /// <summary>Creates the directory if needed and deletes <c>.tmp</c> leftovers of interrupted writes.</summary>
    public SnapshotStore(string directory, int snapshotsToKeep = 3, StorageFileSystem? fileSystem = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentOutOfRangeException.ThrowIfLessThan(snapshotsToKeep, 1);
        DirectoryPath = Path.GetFullPath(directory);
        SnapshotsToKeep = snapshotsToKeep;
        _fs = fileSystem ?? StorageFileSystem.Default;
        Directory.CreateDirectory(DirectoryPath);
        var cleaned = false;
        foreach (var leftover in Directory.EnumerateFiles(DirectoryPath, Prefix + "*" + Suffix + TempSuffix))
        {
            File.Delete(leftover);
            cleaned = true;
        }

        if (cleaned)
        {
            DirectorySync.TryFsync(DirectoryPath);
        }
    }

    /// <summary>Uses <see cref="StorageOptions.SnapshotDirectory"/> and <see cref="StorageOptions.SnapshotsToKeep"/>.</summary>
    public SnapshotStore(StorageOptions options, StorageFileSystem? fileSystem = null)
        : this(options.SnapshotDirectory, options.SnapshotsToKeep, fileSystem)
    {
    }

    /// <summary>The snapshot directory.</summary>
    public string DirectoryPath { get; }

    /// <summary>How many snapshots are kept after a write.</summary>
    public int SnapshotsToKeep { get; }

    /// <summary>Test hook: runs after the temp file is complete and fsynced, before the rename (throw to simulate a crash there).</summary>
    internal Action<string>? AfterTempFileWritten { get; set; }

    /// <summary>The snapshots present, newest (highest sequence) first. Ignores <c>.tmp</c> and unrelated files.</summary>
    public IReadOnlyList<SnapshotInfo> List()
    {
        var result = new List<SnapshotInfo>();
        foreach (var path in Directory.EnumerateFiles(DirectoryPath, Prefix + "*" + Suffix))
        {
            if (!TryParseSequence(Path.GetFileName(path.AsSpan()), out var sequence))
            {
                continue;
            }

            var info = new FileInfo(path);
            if (info.Exists)
            {
                result.Add(new SnapshotInfo(info.FullName, sequence, info.Length, info.LastWriteTimeUtc));
            }
        }

        result.Sort(static (a, b) => b.Sequence.CompareTo(a.Sequence));
        return result;
    }

    /// <summary>
    /// Writes snapshot <paramref name="sequence"/> atomically: <paramref name="writeContent"/> writes the content to
    /// the stream it is given (write-only, not seekable; do not dispose it). Then older snapshots beyond
    /// <see cref="SnapshotsToKeep"/> are deleted. Writing an existing sequence again replaces it atomically.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sequence"/> is negative or lower than the newest stored one.</exception>
    public async Task<SnapshotInfo> WriteAsync(long sequence, Func<Stream, CancellationToken, Task> writeContent, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        ArgumentNullException.ThrowIfNull(writeContent);
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var existing = List();
            if (existing.Count > 0 && sequence < existing[0].Sequence)
            {
                throw new ArgumentOutOfRangeException(nameof(sequence), sequence, "The newest stored snapshot has sequence " + existing[0].Sequence + ".");
            }

            var finalPath = Path.Combine(DirectoryPath, Prefix + sequence.ToString("D10", CultureInfo.InvariantCulture) + Suffix);
            var tempPath = finalPath + TempSuffix;
            try
            {
                await WriteTempFileAsync(tempPath, sequence, writeContent, cancellationToken).ConfigureAwait(false);
                AfterTempFileWritten?.Invoke(tempPath);
                _fs.Move(tempPath, finalPath, overwrite: true);
            }
            catch (Exception e)
            {
                // The previous snapshots are untouched: only the temp file was written, and it goes.
                TryDelete(tempPath);
                if (StorageFaults.Classify(e) is var kind && kind != StorageFaultKind.None && e is not StorageFaultException)
                {
                    var previous = existing.Count > 0 ? "'" + Path.GetFileName(existing[0].Path) + "' is kept unchanged" : "there is no earlier snapshot";
                    throw new StorageFaultException(
                        kind,
                        "snapshot",
                        tempPath,
                        "snapshot " + sequence + " could not be written to '" + DirectoryPath + "': " + StorageFaults.Describe(e) + "; the previous snapshot " + previous,
                        e);
                }

                throw;
            }

            DirectorySync.TryFsync(DirectoryPath);
            Prune();
            var info = new FileInfo(finalPath);
            return new SnapshotInfo(info.FullName, sequence, info.Length, info.LastWriteTimeUtc);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>
    /// Opens a snapshot for reading after checking its header and the CRC32C of its content; the returned stream
    /// is positioned at the content and ends with it. The caller disposes it.
    /// </summary>
    /// <exception cref="InvalidDataException">The header or checksum is wrong.</exception>
    public Stream OpenRead(SnapshotInfo snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var file = new FileStream(snapshot.Path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);
        try
        {
            Verify(file, snapshot);
            file.Position = HeaderBytes;
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Tries the snapshots newest first: a snapshot whose header or checksum is wrong, or whose content
    /// <paramref name="read"/> rejects by throwing <see cref="InvalidDataException"/>, is recorded in
    /// <see cref="SnapshotLoadResult{T}.Rejected"/> and the next older one is tried. Other exceptions propagate.
    /// </summary>
    public async Task<SnapshotLoadResult<T>> LoadNewestAsync<T>(Func<Stream, SnapshotInfo, CancellationToken, Task<T>> read, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(read);
        var rejected = new List<SnapshotRejection>();
        foreach (var snapshot in List())
        {
            Stream stream;
            try
            {
                stream = OpenRead(snapshot);
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException)
            {
                rejected.Add(new SnapshotRejection(snapshot, ex.Message));
                continue;
            }

            await using (stream.ConfigureAwait(false))
            {
                try
                {
                    var value = await read(stream, snapshot, cancellationToken).ConfigureAwait(false);
                    return new SnapshotLoadResult<T>(true, value, snapshot, rejected);
                }
                catch (InvalidDataException ex)
                {
                    rejected.Add(new SnapshotRejection(snapshot, ex.Message));
                }
            }
        }

        return new SnapshotLoadResult<T>(false, default, null, rejected);
    }

    private async Task WriteTempFileAsync(string tempPath, long sequence, Func<Stream, CancellationToken, Task> writeContent, CancellationToken cancellationToken)
    {
        var file = _fs.CreateForWriting(tempPath);
        await using (file.ConfigureAwait(false))
        {
            var header = new byte[HeaderBytes];
            await file.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            var content = new Crc32CWriteStream(file);
            await writeContent(content, cancellationToken).ConfigureAwait(false);
            WriteHeader(header, sequence, content.Crc, content.BytesWritten);
            file.Position = 0;
            await file.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            _fs.FlushToDisk(file);
        }
    }

    private static void WriteHeader(Span<byte> header, long sequence, uint crc, long contentLength)
    {
        "ADCTRSNP"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], crc);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], contentLength);
    }

    private static void Verify(FileStream file, SnapshotInfo snapshot)
    {
        Span<byte> header = stackalloc byte[HeaderBytes];
        if (file.Length < HeaderBytes || file.Read(header) != HeaderBytes)
        {
            throw new InvalidDataException("Snapshot '" + snapshot.Path + "' is shorter than its header.");
        }

        if (!header[..8].SequenceEqual("ADCTRSNP"u8) || BinaryPrimitives.ReadUInt16LittleEndian(header[8..]) != FormatVersion)
        {
            throw new InvalidDataException("Snapshot '" + snapshot.Path + "' has an unknown header.");
        }

        var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        var sequence = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        var contentLength = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        if (sequence != snapshot.Sequence)
        {
            throw new InvalidDataException("Snapshot '" + snapshot.Path + "' holds sequence " + sequence + ", not the one in its name.");
        }

        if (contentLength != file.Length - HeaderBytes)
        {
            throw new InvalidDataException("Snapshot '" + snapshot.Path + "' announces " + contentLength + " content bytes but holds " + (file.Length - HeaderBytes) + ".");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(VerifyBufferBytes);
        try
        {
            var state = Crc32C.InitialState;
            // Bounded: each pass consumes at least one byte of a file of finite length.
            while (true)
            {
                var read = file.Read(buffer, 0, buffer.Length);
                if (read == 0)
                {
                    break;
                }

                state = Crc32C.Update(state, buffer.AsSpan(0, read));
            }

            if (Crc32C.Finish(state) != crc)
            {
                throw new InvalidDataException("Snapshot '" + snapshot.Path + "' fails its CRC32C check.");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Deletes snapshots beyond the newest <see cref="SnapshotsToKeep"/>; one that cannot be deleted now is left for the next write.</summary>
    private void Prune()
    {
        var snapshots = List();
        var deleted = false;
        for (var i = SnapshotsToKeep; i < snapshots.Count; i++)
        {
            deleted |= TryDelete(snapshots[i].Path);
        }

        if (deleted)
        {
            try
            {
                DirectorySync.TryFsync(DirectoryPath);
            }
            catch (IOException)
            {
                // Only the durability of the deletions is at stake; the next write fsyncs the directory again.
            }
        }
    }

    private bool TryDelete(string path)
    {
        try
        {
            _fs.DeleteFile(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool TryParseSequence(ReadOnlySpan<char> fileName, out long sequence)
    {
        sequence = 0;
        if (!fileName.StartsWith(Prefix, StringComparison.Ordinal) || !fileName.EndsWith(Suffix, StringComparison.Ordinal))
        {
            return false;
        }

        var digits = fileName[Prefix.Length..^Suffix.Length];
        return digits.Length >= 10 && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out sequence);
    }
}
