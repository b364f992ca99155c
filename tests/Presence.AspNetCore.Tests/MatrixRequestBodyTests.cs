using Microsoft.AspNetCore.Http;

namespace Presence.AspNetCore.Tests;

[CancelAfter(10_000)]
public sealed class MatrixRequestBodyTests
{
    [Test]
    public async Task TryReadAsync_BodyWithinTheBound_ReturnsIt()
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new CountingStream(1000);

        var body = await MatrixRequestBody.TryReadAsync(context.Request, 1000);

        Assert.That(body, Has.Length.EqualTo(1000));
    }

    [Test]
    public async Task TryReadAsync_BodyOverTheBound_StopsReadingJustPastIt()
    {
        var context = new DefaultHttpContext();
        var source = new CountingStream(29L << 20);
        context.Request.Body = source;

        var body = await MatrixRequestBody.TryReadAsync(context.Request, 1 << 20);

        Assert.That(body, Is.Null);
        Assert.That(source.BytesRead, Is.EqualTo((1 << 20) + 1), "one byte past the bound is enough to know, and nothing more is read");
    }

    [Test]
    public async Task TryReadAsync_DeclaredLengthOverTheBound_ReadsNothing()
    {
        var context = new DefaultHttpContext();
        var source = new CountingStream(2000);
        context.Request.Body = source;
        context.Request.ContentLength = 2000;

        var body = await MatrixRequestBody.TryReadAsync(context.Request, 1000);

        Assert.That(body, Is.Null);
        Assert.That(source.BytesRead, Is.Zero);
    }
}
