"""`lodge alert add|test` against moto: a test alert reaches a loopback receiver signed, and an email
destination subscribes to the SNS topic and gets alerts published with its filter attributes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lodge import aws
from lodge.alerts import deliver, signing
from lodge.storage import Store
from lodge_devtools import cli
from tests.alert_receiver import receiver
from tests.conftest import Project


def make_stack(outputs: dict[str, str]) -> str:
    import boto3

    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "TableName": {"Value": "lodge-test"},
            "BucketName": {"Value": "lodge-test-payloads"},
            **{k: {"Value": v} for k, v in outputs.items()},
        },
    }
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="lodge", TemplateBody=json.dumps(template)
    )
    return "lodge"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert cli.main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_alert_test_sends_a_signed_sample_to_the_destination(
    store: Store, project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack({})
    with receiver() as hook:
        rule = run_json(capsys, "--stack", stack, "alert", "add", project.id, "webhook", hook.url)
        capsys.readouterr()
        assert cli.main(["--stack", stack, "alert", "test", project.id, rule["id"]]) == 0
        assert "Sent a test alert" in capsys.readouterr().out
        (request,) = hook.wait_for(1)
    assert signing.verify(rule["secret"], request.body, request.headers[signing.HEADER])
    body = json.loads(request.body)
    assert body["kind"] == "new_issue" and body["project"]["id"] == project.id
    assert "a test alert" in body["issue"]["title"]


def test_alert_test_to_a_dead_receiver_fails_with_a_message(
    store: Store, project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack({})
    with receiver() as hook:
        hook.statuses = [500]
        rule = run_json(capsys, "--stack", stack, "alert", "add", project.id, "slack", hook.url)
        capsys.readouterr()
        assert cli.main(["--stack", stack, "alert", "test", project.id, rule["id"]]) != 0
        assert "failed" in capsys.readouterr().err
        assert len(hook.wait_for(1)) == 1


def test_an_email_rule_subscribes_and_publishes_to_the_topic_with_its_attributes(
    store: Store, project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    sns, sqs = aws.sns(), aws.sqs()
    topic = sns.create_topic(Name="lodge-test-alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    stack = make_stack({"AlertTopicArn": topic})

    rule = run_json(capsys, "--stack", stack, "alert", "add", project.id, "email", "ops@example.com")
    emails = [s for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if s["Protocol"] == "email"]
    assert [s["Endpoint"] for s in emails] == ["ops@example.com"]
    policy = sns.get_subscription_attributes(SubscriptionArn=emails[0]["SubscriptionArn"])["Attributes"]
    assert json.loads(policy["FilterPolicy"]) == {"email": ["ops@example.com"]}

    from lodge.alerts.deliver import sample_alert

    stored = store.alert_rule(project.id, rule["id"])
    assert stored is not None
    deliver.send(deliver.Context(store=store, sns=sns, topic_arn=topic), stored, sample_alert(project.id))
    (message,) = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
    published = json.loads(message["Body"])
    assert published["MessageAttributes"]["email"] == {"Type": "String", "Value": "ops@example.com"}
    assert published["MessageAttributes"]["project"] == {"Type": "String", "Value": project.id}
    assert "a test alert" in published["Subject"] + published["Message"]
