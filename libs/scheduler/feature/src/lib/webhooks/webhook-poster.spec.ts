import { RecordingWebhookReceiver } from './recording-webhook-receiver';
import { FetchWebhookPoster } from './webhook-poster';

describe('FetchWebhookPoster', () => {
  let receiver: RecordingWebhookReceiver;
  beforeEach(async () => {
    receiver = await RecordingWebhookReceiver.start();
  });
  afterEach(() => receiver.stop());

  it('POSTs the body as application/json and resolves on a 2xx answer', async () => {
    receiver.status = 204;
    await new FetchWebhookPoster().post(`${receiver.url}/a?b=c`, { x: 1 });
    expect(receiver.received).toEqual([{ method: 'POST', path: '/a?b=c', contentType: 'application/json', body: { x: 1 } }]);
  });

  it('rejects on any other answer, naming the status', async () => {
    receiver.status = 500;
    await expect(new FetchWebhookPoster().post(`${receiver.url}/a`, { x: 2 })).rejects.toMatchObject({ status: 500, message: expect.stringContaining('answered 500') });
    receiver.status = 302;
    await expect(new FetchWebhookPoster().post(`${receiver.url}/a`, { x: 3 })).rejects.toMatchObject({ status: 302 });
  });

  it('rejects when the receiver does not answer within the timeout', async () => {
    receiver.holdUntil(2, 2); // one request never completes the pair: it is held until stop()
    await expect(new FetchWebhookPoster(50).post(`${receiver.url}/slow`, {})).rejects.toMatchObject({ status: 0, message: expect.stringContaining('no answer within 50 ms') });
  });

  it('rejects when nothing listens', async () => {
    const gone = await RecordingWebhookReceiver.start();
    const url = gone.url;
    await gone.stop();
    await expect(new FetchWebhookPoster().post(url, {})).rejects.toMatchObject({ status: 0 });
  });
});
