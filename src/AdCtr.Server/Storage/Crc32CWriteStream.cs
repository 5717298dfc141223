using AdCtr.Learning.Hashing;

namespace AdCtr.Server.Storage;

/// <summary>Write-only pass-through stream that computes the CRC32C and the length of what goes through it. Does not own the inner stream.</summary>
internal sealed class Crc32CWriteStream(Stream inner) : Stream
{
    private uint _state = Crc32C.InitialState;
    private long _length;

    /// <summary>CRC32C of all bytes written.</summary>
    public uint Crc => Crc32C.Finish(_state);

    /// <summary>Bytes written.</summary>
    public long BytesWritten => _length;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _state = Crc32C.Update(_state, buffer);
        _length += buffer.Length;
        inner.Write(buffer);
    }

    public override void WriteByte(byte value) => Write([value]);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _state = Crc32C.Update(_state, buffer.Span);
        _length += buffer.Length;
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
