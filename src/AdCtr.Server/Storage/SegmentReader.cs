using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace AdCtr.Server.Storage;

/// <summary>
/// Reads the records of one segment file in order through a reusable buffer (the segment is never loaded
/// whole). Stops at <c>limit</c> bytes; a record that crosses the limit or the end of the file is reported
/// as truncated.
/// </summary>
internal sealed class SegmentReader : IDisposable
{
    private const int DefaultBufferBytes = 1 << 20;

    private readonly SafeFileHandle _handle;
    private readonly long _limit;
    private byte[] _buffer;
    private long _bufferFileOffset;
    private int _bufferCount;
    private long _offset;

    public SegmentReader(string path, long startOffset, long limit)
    {
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        FileLength = RandomAccess.GetLength(_handle);
        _limit = Math.Min(limit, FileLength);
        _offset = startOffset;
        _bufferFileOffset = startOffset;
        _buffer = ArrayPool<byte>.Shared.Rent(DefaultBufferBytes);
    }

    /// <summary>Length of the file when it was opened.</summary>
    public long FileLength { get; }

    /// <summary>Where reading stops: the smaller of the requested limit and the file length.</summary>
    public long Limit => _limit;

    /// <summary>Offset of the next record.</summary>
    public long Offset => _offset;

    /// <summary>
    /// Reads the next record. True with the payload (valid until the next call); false at the limit
    /// (<paramref name="damage"/> = None) or at a damaged record (<paramref name="recordOffset"/> says where).
    /// </summary>
    /// <param name="continues">True when the record is not the last of its batch (see <see cref="ExampleLog.ContinuesFlag"/>).</param>
    public bool TryReadNext(out long recordOffset, out ReadOnlyMemory<byte> payload, out bool continues, out LogDamageKind damage)
    {
        recordOffset = _offset;
        payload = default;
        continues = false;
        damage = LogDamageKind.None;
        var remaining = _limit - _offset;
        if (remaining <= 0)
        {
            return false;
        }

        if (remaining < ExampleLog.RecordHeaderBytes || !Ensure(ExampleLog.RecordHeaderBytes))
        {
            damage = LogDamageKind.TruncatedHeader;
            return false;
        }

        var start = (int)(_offset - _bufferFileOffset);
        var word = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(start));
        var flagged = (word & ExampleLog.ContinuesFlag) != 0;
        var length = word & ~ExampleLog.ContinuesFlag;
        var storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(start + 4));
        if (length == 0 || length > ExampleLog.MaxPayloadBytes)
        {
            damage = LogDamageKind.InvalidLength;
            return false;
        }

        var recordBytes = ExampleLog.RecordHeaderBytes + (int)length;
        if (remaining < recordBytes || !Ensure(recordBytes))
        {
            damage = LogDamageKind.TruncatedPayload;
            return false;
        }

        start = (int)(_offset - _bufferFileOffset);
        var span = _buffer.AsSpan(start + ExampleLog.RecordHeaderBytes, (int)length);
        if (ExampleLog.RecordCrc(span, flagged) != storedCrc)
        {
            damage = LogDamageKind.ChecksumMismatch;
            return false;
        }

        payload = _buffer.AsMemory(start + ExampleLog.RecordHeaderBytes, (int)length);
        continues = flagged;
        _offset += recordBytes;
        return true;
    }

    /// <summary>Makes <paramref name="count"/> bytes from <see cref="_offset"/> available in the buffer; false if the file ends first.</summary>
    private bool Ensure(int count)
    {
        var start = (int)(_offset - _bufferFileOffset);
        var have = _bufferCount - start;
        if (have >= count)
        {
            return true;
        }

        if (count > _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(count);
            Buffer.BlockCopy(_buffer, start, larger, 0, have);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        else if (start > 0)
        {
            Buffer.BlockCopy(_buffer, start, _buffer, 0, have);
        }

        _bufferFileOffset = _offset;
        _bufferCount = have;
        while (_bufferCount < count) // each pass reads at least one byte, and at most `count` are needed
        {
            var toRead = (int)Math.Min(_buffer.Length - _bufferCount, _limit - (_bufferFileOffset + _bufferCount));
            if (toRead <= 0)
            {
                return false;
            }

            var read = RandomAccess.Read(_handle, _buffer.AsSpan(_bufferCount, toRead), _bufferFileOffset + _bufferCount);
            if (read == 0)
            {
                return false;
            }

            _bufferCount += read;
        }

        return true;
    }

    public void Dispose()
    {
        _handle.Dispose();
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
