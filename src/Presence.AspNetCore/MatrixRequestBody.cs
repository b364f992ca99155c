using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Presence;

/// <summary>Reads request bodies with a bound that holds while reading: a body over the limit is refused after at most the limit (plus one read) is taken, never buffered whole.</summary>
public static class MatrixRequestBody
{
    private const int ChunkBytes = 16 * 1024;

    /// <summary>
    /// Reads the body of <paramref name="request"/> if it is at most <paramref name="maxBytes"/> long. A declared
    /// <c>Content-Length</c> over the limit is refused without reading; otherwise reading stops as soon as the limit is
    /// passed. Where the server supports it, the server's own body limit is lowered to <paramref name="maxBytes"/> as well.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="maxBytes">The limit, in bytes.</param>
    /// <param name="cancellationToken">The request's cancellation.</param>
    /// <returns>The body, or <see langword="null"/> when it is over the limit (answer <see cref="MatrixResults.BodyTooLarge"/>).</returns>
    public static async ValueTask<byte[]?> TryReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit
            && (limit.MaxRequestBodySize is null || limit.MaxRequestBodySize > maxBytes))
        {
            limit.MaxRequestBodySize = maxBytes + 1L; // the server stops too: one byte over tells us it is too large
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, request.ContentLength is { } length ? (int)length + 1 : ChunkBytes));
        int filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (filled > maxBytes)
                    {
                        return null;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, buffer.Length * 2));
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read;
                try
                {
                    read = await request.Body.ReadAsync(buffer.AsMemory(filled, Math.Min(buffer.Length, maxBytes + 1) - filled), cancellationToken).ConfigureAwait(false);
                }
                catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
                {
                    return null; // the server's own limit, set above
                }

                if (read == 0)
                {
                    return buffer.AsSpan(0, filled).ToArray();
                }

                filled += read;
                if (filled > maxBytes)
                {
                    return null;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
